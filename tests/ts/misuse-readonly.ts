import { createAuth } from "tessera-auth";
createAuth().accessToken = "stolen"; // error TS2540
