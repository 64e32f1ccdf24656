/**
 * Where the DPoP key lives: IndexedDB, one record per auth server (`baseUrl`), shared by every
 * tab of the origin. IndexedDB stores the CryptoKey object itself (a structured clone), so the
 * private key is kept as WebCrypto made it — non-extractable — and is never serialised to
 * bytes a script could read.
 * @module tessera/keys
 */

export const DATABASE = "tessera-dpop";
export const STORE = "keys";

/**
 * @typedef {object} KeyStore
 * @property {(slot: string) => Promise<import("./dpop.js").ProofKey | undefined>} load
 * @property {(slot: string, key: import("./dpop.js").ProofKey) => Promise<void>} save
 * @property {(slot: string) => Promise<void>} remove
 */

/** @param {IDBFactory} idb @returns {Promise<IDBDatabase>} */
function open(idb) {
  return new Promise((resolve, reject) => {
    const request = idb.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * One request in its own transaction, resolved when the transaction has committed (a key
 * saved is then visible to every other tab). The database is opened per call and closed
 * after: no open connection to block a later version change, and keys are read rarely.
 * @param {IDBFactory} idb @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest} act
 */
async function transact(idb, mode, act) {
  const db = await open(idb);
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = act(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

/** The keys in this origin's IndexedDB. @param {IDBFactory} idb @returns {KeyStore} */
export function indexedDbKeys(idb) {
  return {
    load: (slot) => transact(idb, "readonly", (store) => store.get(slot)),
    save: async (slot, key) => {
      await transact(idb, "readwrite", (store) => store.put(key, slot));
    },
    remove: async (slot) => {
      await transact(idb, "readwrite", (store) => store.delete(slot));
    },
  };
}

/** Keys in memory, for tests and for pages that should not persist one. @returns {KeyStore} */
export function memoryKeys() {
  const keys = new Map();
  return {
    load: async (slot) => keys.get(slot),
    save: async (slot, key) => {
      keys.set(slot, key);
    },
    remove: async (slot) => {
      keys.delete(slot);
    },
  };
}
