// What the installed package really exports, and the members of the client it makes (in Node:
// no document, no IndexedDB; the channel is closed by `close()`).
import * as tessera from "tessera-auth";

const auth = tessera.createAuth({ pageUrl: "https://app.example.com/", storage: null, locks: null });
const members = Object.keys(auth);
auth.close();
console.log(JSON.stringify({ exported: Object.keys(tessera), members }));
