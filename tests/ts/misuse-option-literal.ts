import { createAuth } from "tessera-auth";
createAuth({ credentials: "omit" }); // error TS2322
