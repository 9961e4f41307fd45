/**
 * The command-table rows (cdb_table.ts) of SANITIZE (SBC-3 §5.29, 48h), one per service action
 * offered (sanitize.ts): byte 1 holds IMMED and AUSE, bytes 7-8 the PARAMETER LIST LENGTH. The
 * rows are not media-access rows (a SANITIZE is how the sanitize failed state ends), but they
 * write (WRITE PROTECTED under SWP) and take the exclusive reservation column. CRYPTOGRAPHIC
 * ERASE is offered only by a unit whose data are encrypted (`cryptoEraseOffered`); elsewhere
 * its service action is unsupported (INVALID FIELD IN CDB) and REPORT SUPPORTED OPERATION CODES
 * leaves it out.
 */
import { type CdbRow, row } from '../cdb_row.ts'
import { OpCode } from '../spec/opcodes.ts'
import { SanitizeAction, sanitize, sanitizeBits } from './sanitize.ts'
import { cryptoEraseOffered } from './sanitize_state.ts'

function sanitizeRow(serviceAction: number, name: string, offered?: CdbRow['offered']): CdbRow {
  const byte1 = sanitizeBits.immediate | sanitizeBits.ause | serviceAction
  return row({
    opcode: OpCode.sanitize,
    serviceAction,
    name: `SANITIZE (${name})`,
    cdbLength: 10,
    usage: [OpCode.sanitize, byte1, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
    transfer: { kind: 'parameterList', field: { offset: 7, bytes: 2 } },
    writes: true,
    timeoutSeconds: 3600,
    handler: sanitize,
    ...(offered === undefined ? {} : { offered }),
  })
}

export function sanitizeRows(): CdbRow[] {
  return [
    sanitizeRow(SanitizeAction.overwrite, 'OVERWRITE'),
    sanitizeRow(SanitizeAction.blockErase, 'BLOCK ERASE'),
    sanitizeRow(SanitizeAction.cryptographicErase, 'CRYPTOGRAPHIC ERASE', cryptoEraseOffered),
    sanitizeRow(SanitizeAction.exitFailureMode, 'EXIT FAILURE MODE'),
  ]
}
