// Parse an AsyncAPI document with @asyncapi/parser and print its diagnostics as JSON lines.
// Usage: node validate.js <document.json>   (exit 1 when the parser reports an error)
'use strict';
const fs = require('fs');
const { Parser } = require('@asyncapi/parser');

async function main() {
  const text = fs.readFileSync(process.argv[2], 'utf8');
  const { document, diagnostics } = await new Parser().parse(text);
  const severities = ['error', 'warning', 'information', 'hint'];
  for (const found of diagnostics) {
    console.log(JSON.stringify({
      severity: severities[found.severity] || String(found.severity),
      code: found.code,
      message: found.message,
      path: found.path,
    }));
  }
  if (!document) {
    process.exit(1);
  }
  console.log(JSON.stringify({ parsed: true, channels: document.channels().length, messages: document.messages().length }));
}

main().catch((error) => { console.error(error); process.exit(2); });
