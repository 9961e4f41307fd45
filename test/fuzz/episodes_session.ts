/**
 * Raw-fuzzer episodes in full feature phase, after a real login (RFC 7143 §11): well-formed SCSI
 * Commands with random CDBs whose answers are checked (SPC-4 §4.5.6 for unsupported opcodes),
 * then chunks of hostile PDUs (mutated, bogus TMF / NOP / Logout / Text / SNACK / Data-Out,
 * CmdSN out of order or out of window), each chunk followed by a resync and a ping that must be
 * answered or end in a drop. With digests negotiated, corrupted header digests must drop the
 * connection and corrupted data digests must be rejected (§7.8). The ordering episode checks
 * CmdSN ordering and the window (§3.2.2.1, §4.2.2.1).
 */
import { serialGt } from '../../src/base/serial.ts'
import { serializePdu } from '../../src/iscsi/framer.ts'
import { encodePdu } from '../../src/iscsi/pdu/mod.ts'
import type { InitiatorPdu } from '../../src/iscsi/pdu/types.ts'
import { LogoutReason } from '../../src/iscsi/spec/logout.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'
import { encodeTextData } from '../../src/iscsi/text/key_value.ts'
import type { Prng } from '../harness/prng.ts'
import type { EpisodeContext } from './episodes_login.ts'
import { sendSplit } from './episodes_login.ts'
import type { Expectation, FuzzLink } from './fuzz_link.ts'
import { count } from './fuzz_link.ts'
import { concat, hostileBytes, RandomPduKind, randomPdu } from './raw_pdu_generator.ts'
import { randomCommand } from './scsi_cdb_generator.ts'

const lun0 = new Uint8Array(8)

async function logIn(ctx: EpisodeContext, link: FuzzLink, prng: Prng, digests: boolean) {
  return link.login({
    initiatorName: ctx.initiatorName,
    targetName: ctx.target,
    isid: Uint8Array.of(0x80, ...prng.bytes(3), 0, 0),
    headerDigest: digests,
    dataDigest: digests,
  })
}

/** A SCSI Command PDU (§11.3) with the session's next CmdSN unless `cmdSN` says otherwise. */
function scsiCommand(
  link: FuzzLink,
  cdb: Uint8Array,
  fields: {
    read: boolean
    write: boolean
    edtl: number
    data: Uint8Array
    cmdSN?: number
    final?: boolean
  },
): { pdu: InitiatorPdu; itt: number } {
  const connection = link.connection
  const itt = link.tag()
  const cmdSN = fields.cmdSN ?? connection.cmdSN
  if (fields.cmdSN === undefined) connection.cmdSN = (connection.cmdSN + 1) >>> 0
  const pdu: InitiatorPdu = {
    opcode: Opcode.scsiCommand,
    immediate: false,
    final: fields.final ?? true,
    read: fields.read,
    write: fields.write,
    taskAttribute: 1,
    lun: lun0,
    initiatorTaskTag: itt,
    expectedDataTransferLength: fields.edtl,
    cmdSN,
    expStatSN: connection.expStatSN,
    cdb,
    expectedBidirectionalReadDataLength: null,
    data: fields.data,
  }
  return { pdu, itt }
}

function maxImmediate(link: FuzzLink): number {
  const p = link.parameters!
  return p.immediateData ? Math.min(p.firstBurstLength, p.maxSendDataSegmentLength) : 0
}

/** Well-formed commands with random CDBs, pipelined; each answer is checked. */
async function checkedCommands(ctx: EpisodeContext, link: FuzzLink, prng: Prng, n: number) {
  for (let i = 0; i < n; i++) {
    const command = randomCommand(prng, ctx.supported, maxImmediate(link))
    const { cdb, read, write, data } = command
    const edtl = command.expectedDataTransferLength
    const { pdu, itt } = scsiCommand(link, cdb, { read, write, edtl, data })
    const expectation: Expectation = command.supported ? 'anyStatus' : 'invalidOpcode'
    const what = `CDB ${Buffer.from(cdb).toString('hex')} R=${+read} W=${+write} EDTL=${edtl}`
    link.track(itt, edtl, ctx.supported.size > 0 ? expectation : 'anyStatus', what)
    link.send(pdu, 'fuzz')
  }
  await waitForTasks(link, `${n} well-formed commands`)
}

async function waitForTasks(link: FuzzLink, what: string): Promise<void> {
  const outcome = await link.pump(() => link.tasksPending === 0)
  if (outcome === 'hang') {
    link.tally.hangs++
    link.finding(`${what}: ${link.tasksPending} got no answer and no drop [RFC 7143 §11.4]`)
  }
}

type Hostility =
  | 'mutated'
  | 'command'
  | 'cmdSN'
  | 'bogus'
  | 'unknownOpcode'
  | 'headerDigest'
  | 'dataDigest'

/** Rejects of any reason this connection has received. */
function rejectsSeen(link: FuzzLink): number {
  let total = 0
  for (const [kind, n] of Object.entries(link.seen)) if (kind.startsWith('reject:')) total += n
  return total
}

/**
 * A BHS whose opcode no initiator may send (§11.1: neither an initiator opcode nor vendor
 * specific 0x1c-0x1e); with no data segment, so the framing stays intact.
 */
function unknownOpcode(link: FuzzLink, prng: Prng): Uint8Array {
  const opcodes = [...Array(0x40).keys()].filter(
    (op) => !(op <= 0x06 || op === 0x10 || (op >= 0x1c && op <= 0x1e)),
  )
  const bhs = prng.bytes(48)
  bhs[0] = (bhs[0]! & 0x40) | prng.pick(opcodes)
  bhs[4] = 0
  bhs[5] = 0
  bhs[6] = 0
  bhs[7] = 0
  const encoded = { header: bhs, data: new Uint8Array(0) }
  return concat(serializePdu(encoded, link.connection.digests))
}

/** One chunk of 1..8 hostile PDUs; true when the episode is over (a drop was expected). */
async function hostileChunk(ctx: EpisodeContext, link: FuzzLink, prng: Prng): Promise<boolean> {
  const digests = link.connection.digests
  let dataDigestRejects = 0
  let unknownOpcodes = 0
  const rejectsBefore = link.seen['reject:0x02'] ?? 0
  const anyRejectsBefore = rejectsSeen(link)
  for (let i = prng.between(1, 8); i > 0; i--) {
    const choices: Hostility[] = ['mutated', 'mutated', 'mutated', 'command', 'cmdSN', 'bogus']
    choices.push('unknownOpcode')
    if (digests.header) choices.push('headerDigest', 'dataDigest', 'dataDigest')
    const hostility = prng.pick(choices)
    if (hostility === 'headerDigest') {
      // Mid-PDU, the target reads these bytes as the rest of the PDU before them.
      const framed = link.model.atBoundary
      link.sendBytes(corruptDigest(link, prng, 'header'), 'malformed')
      if (!framed) continue
      await link.expectDrop('a header digest error [RFC 7143 §7.8]')
      return true
    }
    if (hostility === 'unknownOpcode') {
      if (link.model.atBoundary) unknownOpcodes++
      link.sendBytes(unknownOpcode(link, prng), 'malformed')
    } else if (hostility === 'dataDigest') {
      if (link.model.atBoundary) dataDigestRejects++
      link.sendBytes(corruptDigest(link, prng, 'data'), 'malformed')
    } else sendHostile(ctx, link, prng, hostility)
  }
  if ((await link.sync()) !== 'answered') return true
  const rejects = (link.seen['reject:0x02'] ?? 0) - rejectsBefore
  if (dataDigestRejects > 0 && rejects === 0)
    link.finding('a data digest error was not rejected with reason 0x02 [RFC 7143 §7.8]')
  else if (dataDigestRejects > 0) count(link.tally.checks, 'data digest error → Reject 0x02')
  // §11.17.1: a PDU the target cannot take is answered by a Reject (or a drop, above).
  if (unknownOpcodes > 0 && rejectsSeen(link) - anyRejectsBefore < unknownOpcodes)
    link.finding('a PDU with an undefined opcode was neither rejected nor ended the connection')
  else if (unknownOpcodes > 0) count(link.tally.checks, 'undefined opcode → Reject')
  return false
}

function sendHostile(ctx: EpisodeContext, link: FuzzLink, prng: Prng, hostility: Hostility) {
  const connection = link.connection
  const hint = { cmdSN: connection.cmdSN, expStatSN: connection.expStatSN }
  if (hostility === 'mutated') {
    const { mutation, bytes } = hostileBytes(prng, hint, connection.digests)
    sendSplit(link, prng, bytes, mutation !== 'none')
  } else if (hostility === 'command') {
    const command = randomCommand(prng, ctx.supported, maxImmediate(link))
    const edtl = command.expectedDataTransferLength
    const { pdu } = scsiCommand(link, command.cdb, { ...command, edtl })
    link.send(pdu, 'fuzz')
  } else if (hostility === 'cmdSN') {
    sendOutOfWindow(link, prng)
  } else {
    const kind = prng.pick([
      RandomPduKind.nopOut,
      RandomPduKind.taskManagement,
      RandomPduKind.text,
      RandomPduKind.dataOut,
      RandomPduKind.logout,
      RandomPduKind.snack,
    ])
    let pdu = randomPdu(prng, hint, kind)
    // Target cold and warm resets end or disturb every session of the target: keep them rare.
    if (pdu.opcode === Opcode.taskManagementRequest && (pdu.function === 6 || pdu.function === 7))
      if (prng.chance(0.8)) pdu = { ...pdu, function: 1 }
    link.send(pdu, 'malformed')
  }
}

/** §4.2.2.1: a non-immediate command outside [ExpCmdSN, MaxCmdSN] is silently ignored. */
function sendOutOfWindow(link: FuzzLink, prng: Prng): void {
  const connection = link.connection
  const stale = prng.chance(0.5)
  const cmdSN = stale
    ? (connection.cmdSN - prng.between(200, 100_000)) >>> 0
    : (connection.maxCmdSN + prng.between(200, 0x7fff_0000)) >>> 0
  const cdb = new Uint8Array(16)
  const { pdu, itt } = scsiCommand(link, cdb, {
    read: false,
    write: false,
    edtl: 0,
    data: cdb.subarray(0, 0),
    cmdSN,
  })
  if (link.model.atBoundary)
    link.track(
      itt,
      0,
      'ignored',
      `TUR with CmdSN ${cmdSN} (${stale ? 'stale' : 'beyond MaxCmdSN'})`,
    )
  link.send(pdu, 'malformed')
}

/** An immediate NOP-Out with ping data whose header or data digest is wrong (§7.8). */
function corruptDigest(link: FuzzLink, prng: Prng, which: 'header' | 'data'): Uint8Array {
  const pdu: InitiatorPdu = {
    opcode: Opcode.nopOut,
    immediate: true,
    lun: lun0,
    initiatorTaskTag: link.tag(),
    targetTransferTag: reservedTag,
    cmdSN: link.connection.cmdSN,
    expStatSN: link.connection.expStatSN,
    pingData: prng.bytes(prng.between(1, 256)),
  }
  const bytes = concat(serializePdu(encodePdu(pdu), { header: true, data: true }))
  const at = which === 'header' ? 48 + prng.below(4) : bytes.length - 1 - prng.below(4)
  bytes[at] = bytes[at]! ^ (1 << prng.below(8))
  return bytes
}

/** The end of a session episode: a truncated PDU, a logout, or just a close. */
async function ending(link: FuzzLink, prng: Prng): Promise<void> {
  if (link.dropped) return
  const how = prng.pick(['truncate', 'logout', 'close', 'close'] as const)
  if (how === 'truncate') {
    const hint = { cmdSN: link.connection.cmdSN, expStatSN: link.connection.expStatSN }
    const bytes = concat(serializePdu(encodePdu(randomPdu(prng, hint)), link.connection.digests))
    link.sendBytes(bytes.subarray(0, prng.below(bytes.length)), 'malformed')
    count(link.tally.answers, 'truncatedThenClosed')
  } else if (how === 'logout') {
    if (serialGt(link.connection.expCmdSN, link.connection.cmdSN))
      link.connection.cmdSN = link.connection.expCmdSN
    link.send(
      {
        opcode: Opcode.logoutRequest,
        immediate: true,
        reasonCode: LogoutReason.closeSession,
        initiatorTaskTag: link.tag(),
        cid: 0,
        cmdSN: link.connection.cmdSN,
        expStatSN: link.connection.expStatSN,
      },
      'setup',
    )
    // §11.15: a Logout Response, then the target closes (or it already dropped us).
    await link.expectDrop('after a Logout Response [RFC 7143 §11.15]')
  }
}

/** Login, checked commands, 1..5 hostile chunks each followed by a ping, then an ending. */
export async function fullFeature(
  ctx: EpisodeContext,
  link: FuzzLink,
  prng: Prng,
  digests: boolean,
): Promise<void> {
  const parameters = await logIn(ctx, link, prng, digests)
  if (digests && !(parameters.headerDigest && parameters.dataDigest))
    link.finding('the target refused HeaderDigest/DataDigest=CRC32C [RFC 7143 §13.1]')
  await checkedCommands(ctx, link, prng, prng.below(7))
  for (let chunk = prng.between(1, 5); chunk > 0 && !link.dropped; chunk--) {
    if (await hostileChunk(ctx, link, prng)) return
  }
  await ending(link, prng)
}

/**
 * §3.2.2.1: commands sent with CmdSN n+2, n+1, n all run once the gap is filled; §4.2.2.1: a
 * stale or beyond-window CmdSN is ignored; then Data-Out out of DataSN order and with a
 * bogus TTT (answer: any status, a Reject, or a drop), and a ping.
 */
export async function ordering(ctx: EpisodeContext, link: FuzzLink, prng: Prng): Promise<void> {
  await logIn(ctx, link, prng, false)
  const base = link.connection.cmdSN
  const tur = new Uint8Array(16)
  const none = { read: false, write: false, edtl: 0, data: tur.subarray(0, 0) }
  const order = prng.chance(0.5) ? [2, 1, 0] : [1, 2, 0]
  for (const offset of order) {
    const { pdu, itt } = scsiCommand(link, tur, { ...none, cmdSN: (base + offset) >>> 0 })
    link.track(itt, 0, 'anyStatus', `TUR CmdSN base+${offset} sent in order ${order.join(',')}`)
    link.send(pdu, offset === 0 ? 'fuzz' : 'malformed')
  }
  link.connection.cmdSN = (base + 3) >>> 0
  sendOutOfWindow(link, prng)
  await waitForTasks(link, 'CmdSN reordered TURs [RFC 7143 §3.2.2.1]')
  if (link.dropped) return
  if (link.tasksPending === 0) count(link.tally.checks, 'CmdSN gap filled → all commands run')
  unorderedWrite(link, prng)
  if ((await link.sync()) === 'answered') await ending(link, prng)
}

/** WRITE(10) of 2 blocks without immediate data, its Data-Out out of order or bogus. */
function unorderedWrite(link: FuzzLink, prng: Prng): void {
  const lba = prng.below(1024)
  const cdb = Uint8Array.of(0x2a, 0, 0, 0, lba >>> 8, lba & 0xff, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0)
  const none = new Uint8Array(0)
  const fields = { read: false, write: true, edtl: 1024, data: none, final: false }
  const { pdu, itt } = scsiCommand(link, cdb, fields)
  link.track(itt, 1024, 'anyStatus', 'WRITE(10) with Data-Out out of order')
  link.send(pdu, 'fuzz')
  const bogusTtt = prng.chance(0.3)
  const pieces = [
    { dataSN: 1, bufferOffset: 512, final: true },
    { dataSN: 0, bufferOffset: 0, final: false },
  ]
  for (const piece of pieces) {
    link.send(
      {
        opcode: Opcode.dataOut,
        lun: lun0,
        initiatorTaskTag: itt,
        targetTransferTag: bogusTtt ? prng.between(1, 1000) : reservedTag,
        expStatSN: link.connection.expStatSN,
        data: new Uint8Array(512),
        ...piece,
      },
      'malformed',
    )
  }
}

/**
 * A discovery session (RFC 7143 §4.3): SendTargets must get a Text Response; a SCSI Command,
 * which only a normal session may carry, must get a Reject or a drop; then hostile chunks.
 */
export async function discovery(ctx: EpisodeContext, link: FuzzLink, prng: Prng): Promise<void> {
  await link.login({ initiatorName: ctx.initiatorName, sessionType: 'Discovery' })
  const connection = link.connection
  link.send(
    {
      opcode: Opcode.textRequest,
      immediate: false,
      final: true,
      continue: false,
      lun: lun0,
      initiatorTaskTag: link.tag(),
      targetTransferTag: reservedTag,
      cmdSN: connection.cmdSN,
      expStatSN: connection.expStatSN,
      data: encodeTextData([['SendTargets', prng.pick(['All', ctx.target, ''])]]),
    },
    'fuzz',
  )
  connection.cmdSN = (connection.cmdSN + 1) >>> 0
  if ((await link.sync()) !== 'answered') return
  if ((link.seen.textResponse ?? 0) === 0) link.finding('SendTargets got no Text Response')
  else count(link.tally.checks, 'SendTargets → Text Response [RFC 7143 Appendix C]')
  const rejects = rejectsSeen(link)
  const command = randomCommand(prng, ctx.supported, 0)
  const edtl = command.expectedDataTransferLength
  link.send(
    scsiCommand(link, command.cdb, { ...command, data: new Uint8Array(0), edtl }).pdu,
    'malformed',
  )
  if ((await link.sync()) !== 'answered') return
  if (rejectsSeen(link) === rejects)
    link.finding('a SCSI Command in a discovery session was accepted')
  else count(link.tally.checks, 'SCSI Command in a discovery session → Reject')
  for (let chunk = prng.between(0, 2); chunk > 0 && !link.dropped; chunk--) {
    if (await hostileChunk(ctx, link, prng)) return
  }
  await ending(link, prng)
}
