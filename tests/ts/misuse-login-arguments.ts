import { createAuth } from "tessera-auth";
await createAuth().login({ username: "alice", password: "secret" }); // error TS2554
