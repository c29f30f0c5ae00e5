/**
 * Loads the built-in model's word vectors in a process of its own and prints the load report
 * as JSON: local.test.ts runs it to time a cold load without the in-process memo.
 * Usage: node --import tsx tests/embed/load-local-model.ts <cacheDir>
 */
import { loadWordVectors } from '../../src/embed/providers/local-model-file.ts';

const { vectors, report } = await loadWordVectors(process.argv[2]);
process.stdout.write(JSON.stringify({ ...report, size: vectors.size, dims: vectors.dims }));
