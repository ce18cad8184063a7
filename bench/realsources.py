"""Where the real-code set's files come from, language by language: source files of real
projects that nobody here wrote, found (or fetched) by the bench itself.

- python: the standard library and packages installed in this interpreter's environment;
- javascript, typescript: pinned npm packages that ship their sources, installed with npm into a
  cache directory outside the repository (`NPM_DIR`) on first use;
- java: the JDK's ``src.zip`` (``lib/src.zip`` of a JDK under /usr/lib/jvm or $JAVA_HOME);
- c, cpp: the llama.cpp sources vendored in the llama-cpp-python sdist that
  ``scripts/build-llama.sh`` downloads into the cache (read from the tarball itself);
- go, rust: the toolchains' own standard libraries, when their sources are on the machine.
A language whose sources cannot be had is skipped with the reason (`Missing`), never a crash.
Every file is identified by where it came from and its sha256 (`SourceFile`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("FIM_LSP_CACHE", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fim-lsp"))
NPM_DIR = CACHE / "realcode" / "npm"
# Pinned: the set must not move under a rerun. Each ships its own sources (.js, or .ts in src/).
NPM_PACKAGES = ("lodash@4.17.21", "express@4.21.2", "axios@1.7.7", "commander@12.1.0", "rxjs@7.8.1",
                "@tanstack/query-core@5.59.0")  # fmt: skip
LLAMA_SDIST = "llama_cpp_python-{v}.tar.gz"
LLAMA_VERSION = os.environ.get("LLAMA_CPP_PYTHON_VERSION", "0.3.36")
MIN_CHARS, MAX_CHARS = 1_500, 150_000  # files smaller say too little; larger ones are generated tables
LANGUAGES = ("python", "javascript", "typescript", "java", "c", "cpp", "go", "rust")
EXTENSIONS = {"python": ".py", "javascript": ".js", "typescript": ".ts", "java": ".java", "c": ".c",
              "cpp": ".cpp", "go": ".go", "rust": ".rs"}  # fmt: skip


class Missing(Exception):
    """A language's sources are not on this machine (the message says what to install)."""


@dataclass(frozen=True)
class SourceFile:
    language: str
    project: str  # the package or tree it belongs to (files are drawn project by project)
    name: str  # its path inside the project
    path: str  # where it came from (an archive member as ``archive!member``)
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


def _sized(text: str) -> bool:
    return MIN_CHARS <= len(text) <= MAX_CHARS


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text if _sized(text) else None


def _tree(language: str, project: str, root: Path, pattern: str, skip: tuple[str, ...] = ()) -> Iterator[SourceFile]:
    for path in sorted(root.glob(pattern)):
        rel = path.relative_to(root).as_posix()
        if any(s in rel for s in skip):
            continue
        text = _read(path)
        if text is not None:
            yield SourceFile(language, project, rel, str(path), text)


# --- python -------------------------------------------------------------------------------------

STDLIB = ("argparse.py", "heapq.py", "statistics.py", "string.py", "glob.py", "posixpath.py", "csv.py",
          "queue.py", "tokenize.py", "shutil.py", "configparser.py", "fractions.py", "json/decoder.py",
          "json/encoder.py", "email/utils.py", "urllib/parse.py", "ipaddress.py", "dataclasses.py", "textwrap.py",
          "difflib.py", "inspect.py", "pathlib.py", "calendar.py", "gzip.py", "zipfile.py", "logging/handlers.py",
          "http/cookiejar.py", "asyncio/locks.py", "asyncio/queues.py", "concurrent/futures/_base.py")  # fmt: skip
SITE_PACKAGES = ("pygls", "cattrs", "attr", "platformdirs", "pluggy", "_pytest", "packaging", "mypy_extensions",
                 "idna", "certifi", "pygments")  # fmt: skip


def python_files() -> Iterator[SourceFile]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in STDLIB:
        text = _read(stdlib / name)
        if text is not None:
            yield SourceFile("python", f"stdlib/{name.split('/')[0].removesuffix('.py')}", name, str(stdlib / name), text)
    site = Path(sysconfig.get_paths()["purelib"])
    for pkg in SITE_PACKAGES:
        if (site / pkg).is_dir():
            yield from _tree("python", pkg, site / pkg, "**/*.py", ("/tests/", "/test_"))


# --- javascript, typescript -------------------------------------------------------------------------


def npm_modules(log: Callable[[str], None]) -> Path:
    """The pinned npm packages' ``node_modules``, installed on first use."""
    modules = NPM_DIR / "node_modules"
    if all((modules / p.rsplit("@", 1)[0]).is_dir() for p in NPM_PACKAGES):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise Missing("npm is not installed (apt-get install npm): no JavaScript/TypeScript sources")
    log(f"realcode: npm install {' '.join(NPM_PACKAGES)} into {NPM_DIR}")
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", "--ignore-scripts",
                           *NPM_PACKAGES], capture_output=True, text=True, timeout=600)  # fmt: skip
    if proc.returncode != 0:
        raise Missing(f"npm install failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return modules


_JS_SKIP = ("/dist/", "/test", ".min.", "/fp/", "/bundles/", "/umd/", "/esm5/", "/cjs/")


def javascript_files(log: Callable[[str], None]) -> Iterator[SourceFile]:
    modules = npm_modules(log)
    for pkg, pattern in (("lodash", "*.js"), ("express", "lib/**/*.js"), ("axios", "lib/**/*.js"),
                         ("commander", "lib/*.js"), ("body-parser", "lib/**/*.js"), ("send", "*.js"),
                         ("qs", "lib/*.js"), ("iconv-lite", "lib/*.js"), ("debug", "src/*.js")):  # fmt: skip
        if (modules / pkg).is_dir():
            yield from _tree("javascript", pkg, modules / pkg, pattern, _JS_SKIP)


def typescript_files(log: Callable[[str], None]) -> Iterator[SourceFile]:
    modules = npm_modules(log)
    for pkg, pattern in (("rxjs", "src/internal/**/*.ts"), ("@tanstack/query-core", "src/*.ts")):
        if (modules / pkg).is_dir():
            yield from _tree("typescript", pkg, modules / pkg, pattern, (".d.ts", "/test"))


# --- java, c, cpp (archives) ------------------------------------------------------------------------


def jdk_src_zip() -> Path:
    homes = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    homes += sorted(Path("/usr/lib/jvm").glob("*")) if Path("/usr/lib/jvm").is_dir() else []
    for home in homes:
        if (home / "lib" / "src.zip").is_file():
            return home / "lib" / "src.zip"
    raise Missing("no JDK src.zip (apt-get install openjdk-17-source, or set JAVA_HOME): no Java sources")


def java_files() -> Iterator[SourceFile]:
    archive = jdk_src_zip()
    with zipfile.ZipFile(archive) as zf:
        for name in sorted(zf.namelist()):
            parts = name.split("/")
            if not name.endswith(".java") or parts[0] != "java.base" or len(parts) < 4:
                continue
            if parts[1:3] not in (["java", "util"], ["java", "lang"], ["java", "io"], ["java", "time"],
                                  ["java", "net"], ["java", "text"], ["java", "nio"]):  # fmt: skip
                continue
            text = zf.read(name).decode("utf-8", "replace")
            if _sized(text):
                yield SourceFile("java", "/".join(parts[1:-1]), parts[-1], f"{archive}!{name}", text)


def llama_sdist() -> Path:
    path = CACHE / "build" / f"llama-cpp-python-{LLAMA_VERSION}" / LLAMA_SDIST.format(v=LLAMA_VERSION)
    if not path.is_file():
        raise Missing(f"no llama.cpp sources at {path} (run scripts/setup.sh): no C/C++ sources")
    return path


def _sdist_files(language: str, dirs: dict[str, tuple[str, ...]]) -> Iterator[SourceFile]:
    archive = llama_sdist()
    root = f"llama_cpp_python-{LLAMA_VERSION}/vendor/llama.cpp/"
    with tarfile.open(archive) as tf:
        for member in sorted(tf.getmembers(), key=lambda m: m.name):
            rel = member.name.removeprefix(root)
            if not member.isfile() or rel == member.name:
                continue
            project = next((p for p, exts in dirs.items() if rel.startswith(p) and rel.endswith(exts)), None)
            if project is None or "/vendor/" in rel or "kompute" in rel:
                continue
            fh = tf.extractfile(member)
            text = fh.read().decode("utf-8", "replace") if fh else ""
            if _sized(text):
                yield SourceFile(language, f"llama.cpp/{project}", rel.removeprefix(project), f"{archive}!{member.name}", text)


def c_files() -> Iterator[SourceFile]:
    return _sdist_files("c", {"ggml/src/ggml-cpu/": (".c",), "ggml/src/": (".c",)})


def cpp_files() -> Iterator[SourceFile]:
    return _sdist_files("cpp", {"src/": (".cpp",), "common/": (".cpp",), "tools/": (".cpp",)})


# --- go, rust (toolchain sources, when present) -----------------------------------------------------


def go_files() -> Iterator[SourceFile]:
    go = shutil.which("go")
    root = Path(subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip()) if go else None
    if root is None or not (root / "src").is_dir():
        raise Missing("no Go toolchain sources (apt-get install golang-go): no Go files")
    for pkg in ("strings", "bytes", "bufio", "sort", "net/url", "encoding/json", "text/template", "flag"):
        yield from _tree("go", pkg, root / "src" / pkg, "*.go", ("_test.go",))


def rust_files() -> Iterator[SourceFile]:
    rustc = shutil.which("rustc")
    sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True).stdout.strip() if rustc else ""
    lib = Path(sysroot) / "lib" / "rustlib" / "src" / "rust" / "library" if sysroot else None
    if lib is None or not lib.is_dir():
        raise Missing("no Rust standard-library sources (rustup component add rust-src): no Rust files")
    for crate in ("alloc/src/collections", "core/src/str", "std/src/io", "core/src/iter"):
        yield from _tree("rust", crate, lib / crate, "**/*.rs", ("/tests/",))


def files_for(language: str, log: Callable[[str], None] = lambda _: None) -> list[SourceFile]:
    """Every usable file of one language (raises `Missing` when there are none)."""
    found: dict[str, Callable[[], Iterator[SourceFile]]] = {
        "python": python_files, "javascript": lambda: javascript_files(log),
        "typescript": lambda: typescript_files(log), "java": java_files, "c": c_files, "cpp": cpp_files,
        "go": go_files, "rust": rust_files,
    }  # fmt: skip
    if language not in found:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
    try:
        files = list(found[language]())
    except (OSError, subprocess.SubprocessError, tarfile.TarError, zipfile.BadZipFile) as err:
        raise Missing(f"{language} sources could not be read: {err}") from err
    if not files:
        raise Missing(f"no {language} source files found")
    return files


if __name__ == "__main__":  # a quick inventory: python -m bench.realsources
    for lang in LANGUAGES:
        try:
            fs = files_for(lang, lambda m: print(m, file=sys.stderr))
            print(f"{lang}: {len(fs)} files in {len({f.project for f in fs})} projects", file=sys.stderr)
        except Missing as err:
            print(f"{lang}: skipped: {err}", file=sys.stderr)
