// Public surface of the training bridge: the matrix format and the Python trainer.
export {
  MATRIX_FILES,
  MATRIX_FORMAT,
  MatrixWriter,
  readMatrix,
  readMatrixHeader,
  type Matrix,
  type MatrixHeader,
  type MatrixWriterOptions,
} from './matrix.js';
export {
  ensureVenv,
  hasVenv,
  runTrainer,
  trainerArgs,
  venvPython,
  type OutputHandler,
  type TrainerOptions,
  type TrainerSummary,
} from './python.js';
