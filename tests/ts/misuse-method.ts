import { createAuth } from "tessera-auth";
await createAuth().refresh(); // error TS2339
