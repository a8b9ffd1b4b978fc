// prepack of each package: the repository's one LICENSE goes into the tarball (npm packs a LICENSE
// found in the package folder), without a committed copy per package.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
copyFileSync(path.join(root, 'LICENSE'), path.join(process.cwd(), 'LICENSE'));
