import { createAuth } from "tessera-auth";
createAuth({ baseUrl: 42 }); // error TS2322
