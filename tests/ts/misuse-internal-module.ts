import { configure } from "tessera-auth/tessera/options.js"; // error TS2307
configure({});
