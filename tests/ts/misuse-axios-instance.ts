import { createAuth } from "tessera-auth";
createAuth().axios(fetch); // error TS2345
