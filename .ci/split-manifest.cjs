// Prints the map Leptos reads to preload the parts of the bundle a page needs
// (`__wasm_split_manifest.json`): each lazy function's name, as the server knows it, to the
// files (without `.wasm`) its part needs. wasm-split-cli computes the map but does not
// write it, so it is read back from the loader it writes (`__wasm_split.js`, given as the
// argument): a chunk is `const __chunk_<n> = makeLoad(<fetch of its file>, [])`, a part
// `export const __wasm_split_load_<name> = wrapAsyncCb(makeLoad(<fetch>, [<chunks>]))`.
// A module with no code fetches nothing. Fails rather than print a partial map.
"use strict";
const fs = require("fs");

const loader = fs.readFileSync(process.argv[2], "utf8");
// Each declaration runs from its `const` to the next one (or the end).
const declarations = loader.split(/\n(?=(?:export )?const )/).slice(1);
const fileOf = (text) => (text.match(/new URL\("\.\/([\w.-]+)\.wasm"/) || [])[1];
const chunks = new Map();
const parts = [];
for (const text of declarations) {
  const chunk = text.match(/^const (__chunk_\d+) = makeLoad\(/);
  if (chunk) {
    chunks.set(chunk[1], fileOf(text));
    continue;
  }
  const part = text.match(/^export const __wasm_split_load_(\w+) = wrapAsyncCb\(makeLoad\(/);
  if (part) {
    const needs = (text.match(/, \[([\w, ]*)\]\)\);\s*$/) || [])[1];
    if (needs === undefined) throw new Error(`cannot read what ${part[1]} needs`);
    parts.push({ name: part[1], file: fileOf(text), needs: needs.split(", ").filter(Boolean) });
  }
}
if (parts.length === 0) throw new Error(`no lazy parts in ${process.argv[2]}`);
const manifest = {};
for (const { name, file, needs } of parts) {
  const files = needs.map((chunk) => {
    if (!chunks.has(chunk)) throw new Error(`${name} needs ${chunk}, which is not declared`);
    return chunks.get(chunk);
  });
  manifest[name] = [...files, file].filter(Boolean);
}
process.stdout.write(JSON.stringify(manifest, null, 1) + "\n");
