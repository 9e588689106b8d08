/**
 * A minimal pickle virtual machine (protocols 2-5), enough for `torch.save(state_dict)`.
 * It never executes anything: globals are resolved through a hook (unknown ones become
 * inert `PyGlobal` markers) and REDUCE on an unknown callable yields an inert `PyObject`.
 * Throws plain `Error`s; the caller wraps them.
 */

/** A `module.name` reference found in the pickle. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object built by REDUCE/NEWOBJ from an unknown callable, with its BUILD state. */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly callable: unknown, readonly args: unknown[]) {}
}

/** A callable the hooks provide: called by REDUCE with the argument tuple. */
export type PyCallable = (args: unknown[]) => unknown;

export interface PickleHooks {
  /** Returns a callable (or any marker value) for a global; undefined -> a `PyGlobal`. */
  findClass?(module: string, name: string): unknown;
  /** Resolves a persistent id (BINPERSID). */
  persistentLoad?(pid: unknown): unknown;
}

const MARK = Symbol("mark");

/** Runs the pickle program in `data` and returns the unpickled root value. */
export function unpickle(data: Uint8Array, hooks: PickleHooks = {}): unknown {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const td = new TextDecoder("utf-8");
  const latin1 = new TextDecoder("latin1");
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number): void => {
    if (p + n > data.length) throw new Error(`pickle ends early at byte ${p} (truncated file?)`);
  };
  const u8 = (): number => { need(1); return data[p++]!; };
  const u16 = (): number => { need(2); const v = dv.getUint16(p, true); p += 2; return v; };
  const u32 = (): number => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const i32 = (): number => { need(4); const v = dv.getInt32(p, true); p += 4; return v; };
  const bytes = (n: number): Uint8Array => { need(n); const v = data.subarray(p, p + n); p += n; return v; };
  const line = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw new Error("pickle ends inside a text line");
    const s = latin1.decode(data.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new Error(`pickle stack underflow at byte ${p}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new Error(`pickle stack underflow at byte ${p}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const k = stack.lastIndexOf(MARK);
    if (k < 0) throw new Error(`pickle MARK missing at byte ${p}`);
    const items = stack.splice(k);
    items.shift();
    return items;
  };
  const global = (module: string, name: string): unknown => hooks.findClass?.(module, name) ?? new PyGlobal(module, name);
  const call = (fn: unknown, args: unknown[]): unknown => (typeof fn === "function" ? (fn as PyCallable)(args) : new PyObject(fn, args));
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (!(target instanceof Map)) throw new Error("SETITEM(S) on a non-dict");
    for (let i = 0; i + 1 < kv.length; i += 2) target.set(kv[i], kv[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) throw new Error("APPEND(S) on a non-list");
    target.push(...items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: p += 8; break; // FRAME
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break; // MARK
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: stack.push(readLong(bytes(u8()))); break; // LONG1
      case 0x8b: stack.push(readLong(bytes(u32()))); break; // LONG4
      case 0x47: { need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; } // BINFLOAT
      case 0x49: { const s = line(); stack.push(s === "00" ? false : s === "01" ? true : Number(s)); break; } // INT
      case 0x4c: stack.push(Number(line().replace(/L$/, ""))); break; // LONG
      case 0x58: stack.push(td.decode(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(td.decode(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(dv.getBigUint64(p, true)); p += 8; stack.push(td.decode(bytes(n))); break; } // BINUNICODE8
      case 0x54: stack.push(latin1.decode(bytes(u32()))); break; // BINSTRING
      case 0x55: stack.push(latin1.decode(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(bytes(u32())); break; // BINBYTES
      case 0x43: stack.push(bytes(u8())); break; // SHORT_BINBYTES
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x90: { const items = popMark(); const s = top(); if (s instanceof Set) items.forEach((i) => s.add(i)); break; } // ADDITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x68: stack.push(memoGet(memo, u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32())); break; // LONG_BINGET
      case 0x67: stack.push(memoGet(memo, Number(line()))); break; // GET
      case 0x63: { const module = line(); stack.push(global(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(String(module), String(name))); break; } // STACK_GLOBAL
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, asArray(args))); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, asArray(args))); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); const cls = pop(); stack.push(call(cls, asArray(args))); break; } // NEWOBJ_EX
      case 0x62: { const state = pop(); const obj = top(); if (obj instanceof PyObject) obj.state = state; break; } // BUILD
      case 0x51: { const pid = pop(); stack.push(hooks.persistentLoad ? hooks.persistentLoad(pid) : pid); break; } // BINPERSID
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        throw new Error(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, k: number): unknown {
  if (!memo.has(k)) throw new Error(`pickle memo key ${k} missing`);
  return memo.get(k);
}

function asArray(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new Error("REDUCE arguments are not a tuple");
  return v;
}

/** Little-endian two's-complement integer (LONG1/LONG4), as a number. */
function readLong(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}
