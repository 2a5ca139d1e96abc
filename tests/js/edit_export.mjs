// Loads every document of a Duet `export --format automerge` folder with the JavaScript
// Automerge implementation, checks Duet's schema is readable, and adds one agenda item to
// the current meeting's document in Duet's schema, as another tool would.
// Usage: node edit_export.mjs DIR ITEM_TEXT
import * as Automerge from "@automerge/automerge";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, text] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const docs = Object.fromEntries(
  manifest.documents.map((d) => [d.id, { ...d, doc: Automerge.load(readFileSync(join(dir, d.file))) }]),
);
// Duet writes plain scalar strings; Automerge JS reads them as immutable strings.
const str = (v) => (v === undefined || v === null ? v : v.toString());
const index = docs["index"].doc;
if (str(index.kind) !== "duet-index") throw new Error("index is not in Duet's schema");
const upcoming = Object.entries(index.meetings)
  .filter(([, m]) => ["scheduled", "rescheduled"].includes(str(m.status)))
  .sort(([ia, a], [ib, b]) => (str(a.date) + ia).localeCompare(str(b.date) + ib));
if (upcoming.length === 0) throw new Error("no upcoming meeting in the export");
const [meetingId] = upcoming[0];
const entry = docs[meetingId];
const edited = Automerge.change(entry.doc, (d) => {
  d.agenda["fromjs01"] = {
    text: text,
    author: "js-tool",
    added_at: Date.now(),
    position: Number.MAX_SAFE_INTEGER,
    discussed: false,
  };
});
writeFileSync(join(dir, entry.file), Automerge.save(edited));
console.log(
  JSON.stringify({ meeting: meetingId, title: str(index.title), documents: manifest.documents.length }),
);
