import assert from 'node:assert/strict'
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { SanError } from '../base/errors.ts'
import { nativeAddon } from '../base/native.ts'
import {
  pieceLength,
  punchRanges,
  writeFully,
  writeFullySync,
  writeFullyThreadpool,
} from './positional_io.ts'

function withFile(body: (fd: number, path: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'basalt-pio-'))
  const path = join(dir, 'file')
  const fd = openSync(path, 'w+')
  return Promise.resolve(body(fd, path)).finally(() => {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  })
}

/** `operation` on a read-only descriptor of `path` fails as IO_ERROR naming EBADF. */
async function failsOnReadOnly(path: string, operation: (fd: number) => Promise<void>) {
  const readOnly = openSync(path, 'r')
  try {
    await assert.rejects(operation(readOnly), (error: unknown) => {
      assert.ok(error instanceof SanError)
      assert.equal(error.code, 'IO_ERROR')
      assert.match(error.message, /EBADF/)
      return true
    })
  } finally {
    closeSync(readOnly)
  }
}

const noise = (length: number) =>
  Uint8Array.from({ length }, (_, i) => Math.imul(i + 7, 0x9e3779b1) >>> 24)

test('writeFully and writeFullySync split at piece boundaries and write every byte', async () => {
  // Unaligned starts and lengths, pieces smaller and larger than the write, one byte pieces.
  const cases = [
    { position: 0, length: 64 * 1024, piece: 4096 },
    { position: 1000, length: 20_000, piece: 4096 },
    { position: 4095, length: 2, piece: 4096 },
    { position: 70_000, length: 5000, piece: 65_536 },
    { position: 3, length: 17, piece: 1 },
  ]
  for (const write of [writeFully, writeFullyThreadpool, writeFullySync]) {
    for (const { position, length, piece } of cases) {
      await withFile(async (fd, path) => {
        const source = noise(length)
        await write(fd, source, position, piece)
        const file = readFileSync(path)
        assert.equal(file.length, position + length, `${write.name} ${position}+${length}`)
        assert.deepEqual(file.subarray(position), Buffer.from(source))
        assert.ok(file.subarray(0, position).every((byte) => byte === 0))
      })
    }
  }
})

test('pieceLength: a write is cut at every multiple of the piece size in the file', () => {
  const pieces = (position: number, length: number, piece: number) => {
    const lengths: number[] = []
    for (let at = 0; at < length; ) {
      const take = pieceLength(length - at, position + at, piece)
      lengths.push(take)
      at += take
    }
    return lengths
  }
  assert.deepEqual(pieces(1000, 20_000, 4096), [3096, 4096, 4096, 4096, 4096, 520])
  assert.deepEqual(pieces(65_536, 1 << 20, 65_536), Array(16).fill(65_536))
  assert.deepEqual(pieces(0, 100, 65_536), [100])
})

test('writeFully: a failed write is a typed SanError (a full disk is NO_SPACE)', async () => {
  // /dev/full refuses every write with ENOSPC.
  const full = openSync('/dev/full', 'w')
  try {
    for (const write of [writeFully, writeFullyThreadpool]) {
      await assert.rejects(write(full, noise(8192), 0, 4096), (error: unknown) => {
        assert.ok(error instanceof SanError)
        assert.equal(error.code, 'NO_SPACE', write.name)
        return true
      })
    }
  } finally {
    closeSync(full)
  }
  await withFile((_fd, path) =>
    failsOnReadOnly(path, (readOnly) => writeFully(readOnly, noise(4096), 0, 4096)),
  )
})

test('punchRanges: each range reads back as zeros and is given back; a failure is typed', async () => {
  if (nativeAddon === undefined) return // the shell fallback (punchHoles) is tested by media_fs
  await withFile(async (fd, path) => {
    const data = noise(256 * 1024)
    await writeFully(fd, data, 0)
    fsyncSync(fd)
    const held = fstatSync(fd).blocks * 512
    const ranges = [
      { position: 0, length: 64 * 1024 },
      { position: 128 * 1024, length: 64 * 1024 },
    ]
    const punched = punchRanges(fd, ranges)
    assert.ok(punched !== null)
    await punched
    const back = readFileSync(path)
    assert.equal(back.length, data.length, 'the size is kept')
    assert.ok(back.subarray(0, 64 * 1024).every((byte) => byte === 0))
    assert.deepEqual(
      back.subarray(64 * 1024, 128 * 1024),
      Buffer.from(data.subarray(65536, 131072)),
    )
    assert.ok(back.subarray(128 * 1024, 192 * 1024).every((byte) => byte === 0))
    assert.deepEqual(back.subarray(192 * 1024), Buffer.from(data.subarray(192 * 1024)))
    assert.ok(fstatSync(fd).blocks * 512 <= held - 128 * 1024, 'the space is given back')
    await failsOnReadOnly(path, (readOnly) => punchRanges(readOnly, ranges)!)
  })
})
