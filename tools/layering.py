#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Check the layering of the kernel crate (src/), as docs/architecture.md
draws it ("Layers").

Reads every `use crate::...`, `use super::...`, `use self::...` and every
`crate::`/`super::`/`self::` path in code (comments and string literals
removed) of the `.rs` files under the source tree, resolves each path to
the file that defines the item (following `pub use` re-exports of `mod.rs`
files and `#[macro_export]` macros), and fails on:

  (a) an import cycle: between top-level modules (`kaio` -> `rdma` ->
      `kaio`), or between files;
  (b) `kpi/` importing anything but `kpi/`, `sys` and the leaf modules;
  (c) an import from a lower layer to a higher one (a lower layer that
      needs something from above defines a trait the higher one
      implements, so the import runs downward);
  (d) `unsafe` outside `kpi/` and `edge/`;

and on a top-level module that no layer names (a new module must be put
in a layer here and in docs/architecture.md).

  python3 tools/layering.py [--src DIR] [--graph]

Exit status 0 when clean, 1 with one line per problem.  Tested by
tools/tests/test_layering.py, which builds bad trees and sees each fail.
"""
import argparse
import os
import re
import sys

# Top-level modules of src/, layer by layer, from the top (called first)
# to the bottom.  A module may import from its own layer and from any
# layer below it, never from one above.
LAYERS = [
    ("edge", ["edge"]),
    ("entries", ["module", "device", "filter"]),
    ("features", ["kaio", "rdma", "upcall"]),
    ("core", ["request", "engine", "gate", "spinlock"]),
    ("kpi", ["kpi"]),
    ("sys", ["sys"]),
]

# Leaf modules: kernel-independent logic that imports nothing from the
# crate but other leaves, and that any layer may use.  `crate` is the
# crate root (src/lib.rs: the version constants).
LEAVES = ["stats", "slots", "crate"]

# The only places `unsafe` may be written.
UNSAFE_OK = ["kpi", "edge"]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """Code with comments, string and char literals blanked (newlines
    kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)
    token = re.compile(
        r'//[^\n]*|/\*.*?\*/|b?r(#*)".*?"\1|b?"(?:\\.|[^"\\])*"|b?\'(?:\\.|[^\'\\\n])\'',
        re.S,
    )
    for m in token.finditer(text):
        out.append(text[i:m.start()])
        blank = re.sub(r"[^\n]", " ", m.group(0))
        out.append(blank)
        i = m.end()
    out.append(text[i:n])
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, e as f}, self}` -> [a::b, a::c::d, a::c::e, a]."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def walk(prefix, s):
        brace = s.find("{")
        if brace < 0:
            path = prefix + [seg for seg in s.split("::") if seg]
            if path and path[-1] == "self":
                path = path[:-1]
            return [path] if path else []
        head = [seg for seg in s[:brace].split("::") if seg]
        inner = s[brace + 1 : s.rfind("}")]
        result = []
        for part in split_top(inner):
            result.extend(walk(prefix + head, part))
        return result

    return walk([], tree)


class Crate:
    """The module tree of one source directory."""

    def __init__(self, src):
        self.src = src
        self.files = {}  # module path (tuple) -> file (relative)
        for root, _dirs, names in os.walk(src):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                rel = os.path.relpath(os.path.join(root, name), src)
                parts = rel[:-3].split(os.sep)
                if parts == ["lib"]:
                    mod = ()
                elif parts[-1] == "mod":
                    mod = tuple(parts[:-1])
                else:
                    mod = tuple(parts)
                self.files[mod] = rel
        self.code = {}
        for mod, rel in self.files.items():
            with open(os.path.join(src, rel), encoding="utf-8") as f:
                self.code[mod] = strip(f.read())
        self.reexports = {}  # (module, name) -> full path
        self.macros = {}  # macro name -> module
        for mod, code in self.code.items():
            for m in re.finditer(r"#\[macro_export\]\s*macro_rules!\s*(" + IDENT + ")", code):
                self.macros[m.group(1)] = mod
            for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", code):
                for path in expand_use_tree(m.group(1)):
                    full = self.absolute(mod, path)
                    if full is not None and full:
                        self.reexports[(mod, full[-1])] = full
        # Names given by `use ... as name` are not tracked: a renamed
        # import is resolved at its `use`.

    def absolute(self, mod, path):
        """`path` (segments) written in module `mod` as a path from the
        crate root, or None for another crate's."""
        if not path:
            return None
        head = path[0]
        if head in ("crate", "$crate"):
            return tuple(path[1:])
        if head == "self":
            return mod + tuple(path[1:])
        if head == "super":
            base = list(mod)
            rest = list(path)
            while rest and rest[0] == "super":
                if not base:
                    return None
                base.pop()
                rest.pop(0)
            return tuple(base) + tuple(rest)
        # A 2018-edition relative path through a child module.
        if mod + (head,) in self.files:
            return mod + tuple(path)
        return None

    def resolve(self, full, seen=None):
        """The module (file) that defines the item `full` names."""
        seen = seen or set()
        if not full:
            return ()
        # Longest prefix that is a module.
        for k in range(len(full), -1, -1):
            prefix = tuple(full[:k])
            if prefix in self.files:
                if k == len(full):
                    return prefix
                name = full[k]
                key = (prefix, name)
                if key in self.reexports and key not in seen:
                    seen.add(key)
                    target = self.reexports[key]
                    return self.resolve(tuple(target) + tuple(full[k + 1 :]), seen)
                if k == 0 and name in self.macros:
                    return self.macros[name]
                return prefix
        return ()

    def imports(self, mod):
        """(line, target module) for every path in `mod` that names an item
        of this crate defined in another file."""
        code = self.code[mod]
        found = []
        # Inline `mod name {` blocks change what `self`/`super` mean.
        inline = []  # (name, depth at which it closes)
        scopes = []
        depth = 0
        for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{|[{}]", code):
            if m.group(1):
                depth += 1
                inline.append((m.group(1), depth))
                scopes.append((m.start(), tuple(n for n, _ in inline)))
            elif m.group(0) == "{":
                depth += 1
            else:
                if inline and inline[-1][1] == depth:
                    inline.pop()
                    scopes.append((m.start(), tuple(n for n, _ in inline)))
                depth -= 1

        def scope_at(pos):
            cur = ()
            for start, names in scopes:
                if start > pos:
                    break
                cur = names
            return mod + cur

        def line_of(pos):
            return code.count("\n", 0, pos) + 1

        aliases = {}  # a module imported by name -> (line, module)
        for m in re.finditer(r"(\bpub(?:\([^)]*\))?\s+)?\buse\s+((?:::)?[A-Za-z_$][^;]*);", code):
            if m.group(1):
                # A re-export: a facade, followed by `resolve`.
                continue
            here = scope_at(m.start())
            for path in expand_use_tree(m.group(2)):
                full = self.absolute(here, path)
                if full is None:
                    continue
                target = self.resolve(full)
                if target == full and full in self.files and full != mod:
                    # `use crate::kaio;` then `kaio::submit(..)`: the
                    # paths through the name say which files it uses.
                    aliases[full[-1]] = (line_of(m.start()), full)
                    continue
                found.append((line_of(m.start()), target))
        for name, (line, module) in aliases.items():
            used = False
            for u in re.finditer(r"(?<![\w:])" + name + r"((?:::" + IDENT + r")+)", code):
                rest = [s for s in u.group(1).split("::") if s]
                found.append((line_of(u.start()), self.resolve(module + tuple(rest))))
                used = True
            if not used:
                found.append((line, module))
        for m in re.finditer(r"(?<![\w:])(\$?crate|super|self)((?:::" + IDENT + r")+)", code):
            # Skip the paths of `use` statements (done above).
            start = code.rfind(";", 0, m.start())
            if re.search(r"\buse\s+[^;]*$", code[start + 1 : m.start()]):
                continue
            here = scope_at(m.start())
            path = [m.group(1)] + [s for s in m.group(2).split("::") if s]
            full = self.absolute(here, path)
            if full is None:
                continue
            found.append((line_of(m.start()), self.resolve(full)))
        return [(line, target) for line, target in found if target != mod]


def top(mod):
    return mod[0] if mod else "crate"


def layer_index():
    index = {}
    for i, (_name, mods) in enumerate(LAYERS):
        for mod in mods:
            index[mod] = i
    return index


def cycles(graph):
    """The strongly connected components of more than one node."""
    index, low, stack, on, result = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def check(src):
    """Every problem found, as text lines."""
    crate = Crate(src)
    layers = layer_index()
    problems = []

    def where(mod):
        return os.path.join(os.path.basename(os.path.normpath(src)), crate.files[mod])

    for mod in sorted(crate.files):
        t = top(mod)
        if t not in layers and t not in LEAVES:
            problems.append(f"{where(mod)}: top-level module `{t}` is in no layer (tools/layering.py LAYERS)")

    file_graph = {}
    mod_graph = {}
    for mod in sorted(crate.files):
        src_top = top(mod)
        for line, target in crate.imports(mod):
            file_graph.setdefault(mod, set()).add(target)
            dst_top = top(target)
            if dst_top != src_top:
                mod_graph.setdefault(src_top, set()).add(dst_top)
            else:
                continue
            what = f"{where(mod)}:{line}: imports `{'::'.join(('crate',) + target)}`"
            if src_top in LEAVES:
                if dst_top not in LEAVES:
                    problems.append(f"{what}: a leaf module imports only leaves")
                continue
            if dst_top in LEAVES or src_top not in layers or dst_top not in layers:
                continue
            if src_top == "kpi" and dst_top not in ("kpi", "sys"):
                problems.append(f"{what}: kpi/ imports only kpi/, sys and leaf modules")
            elif layers[dst_top] < layers[src_top]:
                problems.append(
                    f"{what}: `{src_top}` (layer {LAYERS[layers[src_top]][0]}) imports from the higher "
                    f"layer {LAYERS[layers[dst_top]][0]}; define a trait below and implement it above"
                )

    for comp in cycles(mod_graph):
        problems.append("import cycle between top-level modules: " + " -> ".join(comp + [comp[0]]))
    for comp in cycles(file_graph):
        names = [crate.files[m] for m in comp]
        problems.append("import cycle between files: " + " -> ".join(names + [names[0]]))

    for mod in sorted(crate.files):
        if top(mod) in UNSAFE_OK:
            continue
        for m in re.finditer(r"\bunsafe\b", crate.code[mod]):
            line = crate.code[mod].count("\n", 0, m.start()) + 1
            problems.append(f"{where(mod)}:{line}: `unsafe` outside {' and '.join(d + '/' for d in UNSAFE_OK)}")
    return problems, crate, file_graph


def main():
    top_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.path.join(top_dir, "src"), help="the crate's source directory")
    ap.add_argument("--graph", action="store_true", help="print the file import graph")
    args = ap.parse_args()
    problems, crate, graph = check(args.src)
    if args.graph:
        for mod in sorted(graph):
            for target in sorted(graph[mod]):
                print(f"{crate.files[mod]} -> {crate.files.get(target, target)}")
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} problem(s) (docs/architecture.md, \"Layers\")")
        return 1
    print(f"layering: {len(crate.files)} files, clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
