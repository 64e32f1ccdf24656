import { createAuth } from "tessera-auth";
createAuth().on("refresh", () => {}); // error TS2345
