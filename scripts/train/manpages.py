#!/usr/bin/env python3
"""Turn the installed Debian man pages into retrieval pairs for scripts/train/train.py.

Usage: manpages.py --out DIR [--seed 21] [--heldout-pages 160] [--root /usr/share/man]

Pages: every man page (sections 1-8) of the Debian packages `manpages`, `manpages-dev`
(English) and the translations `manpages-{de,fr,es,it,nl,pl,pt-br,ru,uk,ja,zh}` that are
installed, plus the English original of every translated page (installed by the program's own
package, e.g. coreutils). A page is "NAME.SECTION" (ls.1); its language versions are grouped.
Each version gives: the NAME line's description (after "name \\- ") and the body text after the
SYNOPSIS (from the longest of the three sections after NAME on), stripped of roff markup, cut into chunks of about 48 words (ideographic scripts: 120
characters). Alias pages (.so) and versions without a description or body are skipped.

Split: whole pages (all their languages) are held out, chosen by a seeded shuffle among pages
with at least two language versions. Writes
  DIR/train.jsonl   {"query", "positive", "negatives", "lang", "page"} pairs: a version's NAME
                    description -> one of the first 3 chunks of the same page, in the same
                    language or (for every other pair) in another language of that page; two hard
                    negatives: chunks of other training pages in the positive's language and section.
  DIR/heldout.jsonl same format, on the held-out pages only (never seen in training).
  DIR/heldout-pairs.jsonl  300 of those (one negative each): the committed sample.
  DIR/eval.json     held-out evaluation set: corpus (first 2 chunks of every language version of
                    the held-out pages) and queries (every version's NAME description) with the
                    target page; see bench/quality.ts.
  DIR/tokenizer-text.txt  the training text (descriptions + chunks) the tokenizer is trained on.
"""
import argparse
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys

LANG_PKGS = {"en": ["manpages", "manpages-dev"], "de": ["manpages-de"], "fr": ["manpages-fr"],
             "es": ["manpages-es"], "it": ["manpages-it"], "nl": ["manpages-nl"], "pl": ["manpages-pl"],
             "pt": ["manpages-pt-br"], "ru": ["manpages-ru"], "uk": ["manpages-uk"],
             "ja": ["manpages-ja"], "zh": ["manpages-zh"]}
DIR_LANG = {"de": "de", "fr": "fr", "es": "es", "it": "it", "nl": "nl", "pl": "pl", "pt_BR": "pt",
            "ru": "ru", "uk": "uk", "ja": "ja", "zh_CN": "zh"}
CJK = {"ja", "zh"}
PATH_RE = re.compile(r"/usr/share/man/(?:([A-Za-z_]+)/)?man([1-8])/([^/]+)\.([1-8][a-z0-9]*)\.gz$")

ESCAPES = [(re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""), (re.compile(r"\\s[+-]?\d+"), ""),
           (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""), (re.compile(r"\\\((em|en)"), "—"),
           (re.compile(r"\\\((aq|cq)"), "'"), (re.compile(r"\\\((dq|lq|rq|Fo|Fc)"), '"'),
           (re.compile(r"\\\(bu"), "•"), (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),
           (re.compile(r"\\-"), "-"), (re.compile(r"\\e"), "\\\\"), (re.compile(r"\\[ ~0]"), " "),
           (re.compile(r"\\[&,/:%|^)c]"), ""), (re.compile(r"\\[nk]\S"), ""), (re.compile(r"\\"), "")]
FONT_MACROS = {"B", "I", "SM", "SB"}
ALT_MACROS = {"BR", "RB", "BI", "IB", "IR", "RI"}
SKIP_BLOCKS = {"TS": "TE", "de": "..", "EQ": "EN", "PS": "PE"}


def unescape(s):
    for rx, rep in ESCAPES:
        s = rx.sub(rep, s)
    return s


def macro_args(rest):
    out, cur, q = [], "", False
    for ch in rest:
        if ch == '"':
            q = not q
        elif ch in " \t" and not q:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def parse_roff(text):
    """[(section heading, [text lines])] of a roff page; markup stripped."""
    sections, cur, skip_until = [], None, None
    for raw in text.split("\n"):
        line = raw.rstrip()
        if skip_until is not None:
            if line.startswith("." + skip_until):
                skip_until = None
            continue
        if line.startswith(('.\\"', "'\\\"", '.\\\\"')) or line in (".", "'"):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"[.']\s*(\S+)\s*(.*)", line)
            if not m:
                continue
            name, rest = m.group(1), m.group(2)
            if name in SKIP_BLOCKS:
                skip_until = SKIP_BLOCKS[name]
            elif name in ("SH", "SS") and name == "SH":
                cur = (unescape(" ".join(macro_args(rest))).strip(), [])
                sections.append(cur)
            elif cur is None:
                continue
            elif name == "SS":
                pass
            elif name in FONT_MACROS:
                cur[1].append(unescape(" ".join(macro_args(rest))))
            elif name in ALT_MACROS:
                cur[1].append(unescape("".join(macro_args(rest))))
            elif name in ("IP", "TP", "PP", "LP", "P"):
                a = macro_args(rest)
                if name == "IP" and a and len(unescape(a[0])) > 2:
                    cur[1].append(unescape(a[0]))
            continue
        if cur is not None:
            cur[1].append(unescape(line))
    return sections


def words_of(lines):
    return " ".join(" ".join(lines).split())


def chunks_of(text, lang, n_words=48, n_chars=120):
    if lang in CJK:
        return [text[i:i + n_chars].strip() for i in range(0, len(text), n_chars) if len(text[i:i + n_chars].strip()) > 20]
    w = text.split()
    return [" ".join(w[i:i + n_words]) for i in range(0, len(w), n_words) if len(w[i:i + n_words]) >= 8]


def read_page(path, lang):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith(".so") or len(text) < 200:
        return None
    secs = parse_roff(text)
    if len(secs) < 2:
        return None
    name = words_of(secs[0][1])
    m = re.match(r".*?\s+[-–—]\s+(.+)$", name)
    if not m:
        return None
    desc = m.group(1).strip()
    # the body starts at the longest of the 3 sections after NAME (DESCRIPTION, whatever the
    # page's language calls it; it skips SYNOPSIS and LIBRARY); translations end in a credits section
    rest = secs[1:-1] if lang != "en" else secs[1:]
    if not rest:
        return None
    start = max(range(min(3, len(rest))), key=lambda i: len(words_of(rest[i][1]).split()))
    body = words_of([l for s in rest[start:] for l in s[1]])
    ch = chunks_of(body, lang)
    if len(desc) < 4 or not ch:
        return None
    return {"desc": desc, "chunks": ch[:6]}


def package_files(pkgs):
    out = subprocess.run(["dpkg", "-L", *pkgs], capture_output=True, text=True).stdout
    return [l for l in out.split("\n") if l.endswith(".gz")]


def collect(root):
    pages = {}  # key -> lang -> version
    translated = []
    for lang, pkgs in LANG_PKGS.items():
        for p in package_files(pkgs):
            m = PATH_RE.match(p)
            if not m or not os.path.exists(p):
                continue
            d = m.group(1)
            if (d is None) != (lang == "en") or (d is not None and DIR_LANG.get(d) != lang):
                continue
            key = f"{m.group(3)}.{m.group(2)}"
            v = read_page(p, lang)
            if v:
                pages.setdefault(key, {})[lang] = v
                if lang != "en":
                    translated.append((key, m.group(2), m.group(3), m.group(4)))
    for key, sec, name, ext in translated:  # English originals of translated pages
        if "en" in pages[key]:
            continue
        p = os.path.join(root, f"man{sec}", f"{name}.{ext}.gz")
        if os.path.exists(p):
            v = read_page(p, "en")
            if v:
                pages[key]["en"] = v
    return pages


def versions():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n",
                          *[p for ps in LANG_PKGS.values() for p in ps]], capture_output=True, text=True).stdout
    return dict(l.split(" ", 1) for l in out.strip().split("\n") if l)


def make_pairs(keys, pages, rng, pool):
    pairs = []
    for key in keys:
        langs = sorted(pages[key])
        for i, ql in enumerate(langs):
            for j in range(3):
                pl = ql if (j % 2 == 0 or len(langs) == 1) else rng.choice([l for l in langs if l != ql])
                ch = pages[key][pl]["chunks"]
                if j >= len(ch) and j > 0:
                    continue
                pos = ch[min(j, len(ch) - 1)]
                cand = pool.get((pl, key.rsplit(".", 1)[1]), [])
                negs = []
                for _ in range(8):
                    if len(negs) == 2 or not cand:
                        break
                    k2, c = rng.choice(cand)
                    if k2 != key and c not in negs:
                        negs.append(c)
                pairs.append({"query": pages[key][ql]["desc"], "positive": pos, "negatives": negs, "lang": f"{ql}>{pl}", "page": key})
    return pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--heldout-pages", type=int, default=160)
    ap.add_argument("--root", default="/usr/share/man")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pages = collect(a.root)
    keys = sorted(pages)
    multi = [k for k in keys if len(pages[k]) >= 2]
    rng = random.Random(a.seed)
    held = set(rng.sample(multi, min(a.heldout_pages, len(multi))))
    train_keys = [k for k in keys if k not in held]
    pool = {}
    for k in train_keys:
        for l, v in pages[k].items():
            pool.setdefault((l, k.rsplit(".", 1)[1]), []).extend((k, c) for c in v["chunks"][:3])
    train = make_pairs(train_keys, pages, rng, pool)
    heldout = make_pairs(sorted(held), pages, rng, pool)
    rng.shuffle(train)
    for name, rows in (("train.jsonl", train), ("heldout.jsonl", heldout)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    sample = list(heldout)  # the small committed held-out pairs file (data/manpages/heldout-pairs.jsonl)
    random.Random(a.seed).shuffle(sample)
    with open(os.path.join(a.out, "heldout-pairs.jsonl"), "w", encoding="utf-8") as f:
        for r in sorted(sample[:300], key=lambda r: (r["page"], r["lang"])):
            f.write(json.dumps({**r, "negatives": r["negatives"][:1]}, ensure_ascii=False) + "\n")
    corpus, queries = [], []
    for k in sorted(held):
        for l in sorted(pages[k]):
            v = pages[k][l]
            for j, c in enumerate(v["chunks"][:2]):
                corpus.append({"id": f"{k}/{l}/{j}", "page": k, "lang": l, "text": c})
            queries.append({"id": f"{k}/{l}", "page": k, "lang": l, "text": v["desc"]})
    meta = {"source": "Debian man pages", "packages": versions(), "seed": a.seed,
            "pages": len(keys), "heldout_pages": len(held), "train_pairs": len(train),
            "languages": sorted({l for k in keys for l in pages[k]}),
            "relevance": "a query's target is its page: any passage of the page (in any language) is relevant",
            "command": f"python3 scripts/train/manpages.py --out DIR --seed {a.seed} --heldout-pages {a.heldout_pages}"}
    with open(os.path.join(a.out, "eval.json"), "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "corpus": corpus, "queries": queries}, f, ensure_ascii=False)
    with open(os.path.join(a.out, "tokenizer-text.txt"), "w", encoding="utf-8") as f:
        for k in train_keys:
            for v in pages[k].values():
                f.write(v["desc"] + "\n")
                for c in v["chunks"]:
                    f.write(c + "\n")
    by_lang = {}
    for k in keys:
        for l in pages[k]:
            by_lang[l] = by_lang.get(l, 0) + 1
    print(json.dumps({**{k: v for k, v in meta.items() if k != "packages"}, "versions_by_lang": by_lang,
                      "heldout_pairs": len(heldout), "eval_corpus": len(corpus), "eval_queries": len(queries)}))


if __name__ == "__main__":
    main()
