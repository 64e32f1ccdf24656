import { createAuth } from "tessera-auth";
createAuth().on("logout", ({ expiresAt }) => expiresAt); // error TS2339
