import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemoryBlockDevice } from '../storage/memory_device.ts'
import { type ScsiResult, ScsiStatus } from './port.ts'
import { parseSense } from './sense.ts'
import { SenseKey } from './spec/sense_codes.ts'
import { lunBytes, makeNexus, makeUnit } from './testing/initiator.ts'
import { UnitGroup } from './unit_group.ts'

const validKeys: ReadonlySet<number> = new Set(Object.values(SenseKey))
const allowedStatus: ReadonlySet<number> = new Set([
  ScsiStatus.good,
  ScsiStatus.checkCondition,
  ScsiStatus.conditionMet,
  ScsiStatus.reservationConflict, // a PR OUT or RESERVE that another nexus's state refuses
])

/** An arbitrary CDB: any opcode, random bytes, length 0..32; small LBAs sometimes. */
const arbitraryCdb = fc
  .tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ minLength: 0, maxLength: 31 }),
    fc.boolean(),
  )
  .map(([opcode, rest, tame]) => {
    const cdb = Uint8Array.of(opcode, ...rest)
    // Half the time keep LBA and length bytes small so commands reach their handlers.
    if (tame)
      for (let index = 2; index < cdb.length; index++) cdb[index]! &= index % 3 === 0 ? 1 : 0
    return cdb
  })

test('Random CDBs never throw; GOOD or CHECK CONDITION + valid sense [SPC-4 §4.5]', async () => {
  const device = new MemoryBlockDevice(512, 4096)
  const group = new UnitGroup(new Map([[0, makeUnit(device)]]))
  const nexus = makeNexus(1)
  await fc.assert(
    fc.asyncProperty(arbitraryCdb, fc.constantFrom(0, 0, 0, 1, 0x1_c101), async (cdb, lun) => {
      const parsed = group.parse({
        nexus,
        lun: lunBytes(lun),
        cdb,
        taskAttribute: 'simple',
        taskTag: 1,
      })
      let result: ScsiResult
      if (parsed.kind === 'done') result = parsed.result
      else {
        assert.ok(parsed.dataOutBytes >= 0 && parsed.dataOutBytes <= 8 * 1024 * 1024)
        const dataOut = parsed.dataOutBytes > 0 ? new Uint8Array(parsed.dataOutBytes) : null
        result = await group.execute(parsed.command, dataOut)
        if (result.dataIn !== null) assert.ok(result.dataIn.length <= parsed.dataInBytesMax)
      }
      assert.ok(allowedStatus.has(result.status), `status ${result.status}`)
      if (result.status === ScsiStatus.checkCondition) {
        assert.ok(result.sense !== null)
        const sense = parseSense(result.sense)
        assert.ok(sense !== null, 'sense parses')
        assert.ok(validKeys.has(sense.key) && sense.key !== SenseKey.noSense)
      } else {
        assert.equal(result.sense, null)
      }
    }),
    { numRuns: 3000 },
  )
})
