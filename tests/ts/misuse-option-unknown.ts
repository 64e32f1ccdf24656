import { createAuth } from "tessera-auth";
createAuth({ baseURL: "/auth" }); // error TS2561
