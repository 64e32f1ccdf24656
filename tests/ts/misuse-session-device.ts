import { createAuth } from "tessera-auth";
for (const session of await createAuth().sessions()) console.log(session.device.length); // error TS18047
