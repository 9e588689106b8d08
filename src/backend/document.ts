/** The stored document: a leaf every other backend module may import (it imports nothing). */

/** A stored document. `metadata` is a plain JSON object (see `checkMetadata`). */
export interface StoredDocument {
  id: string;
  pageContent: string;
  metadata: Record<string, unknown>;
}
