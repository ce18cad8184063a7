"""FIM prompt formats of the code models we support, and their detection from the vocabulary.

A template renders a `Prompt` into `Segment`s: control tokens (looked up by id in the model's
vocabulary, never tokenized from user text) and plain text (tokenized with special tokens off,
so code that contains ``<|fim_prefix|>`` cannot inject control tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lsp_server.context.types import Prompt


@dataclass(frozen=True)
class Segment:
    text: str
    special: bool = False


@dataclass(frozen=True)
class FimTemplate:
    """One model family's FIM layout.

    ``suffix_first`` (SPM) puts the suffix before the prefix; otherwise PSM. ``repo_name`` and
    ``file_sep`` enable repository-level prompts (file path and other files as context).
    """

    name: str
    prefix_tok: str
    suffix_tok: str
    middle_tok: str
    stop_toks: tuple[str, ...] = ()
    suffix_first: bool = False
    repo_name_tok: str = ""
    file_sep_tok: str = ""
    # CodeLlama's tokenizer expects a space around its markers.
    prefix_pad: str = ""
    suffix_pad: str = ""

    @property
    def required_tokens(self) -> tuple[str, ...]:
        return (self.prefix_tok, self.suffix_tok, self.middle_tok)

    def render(self, prompt: Prompt) -> list[Segment]:
        """Segments in model order; stable parts first so the KV cache prefix survives typing."""
        segs: list[Segment] = list(self._header(prompt))
        prefix = Segment(self.prefix_pad + prompt.prefix)
        if self.suffix_first:
            segs += [
                Segment(self.suffix_tok, True),
                Segment(self.suffix_pad + prompt.suffix),
                Segment(self.prefix_tok, True),
                prefix,
            ]
            # Codestral has no middle token: it generates straight after the prefix.
            segs += [Segment(self.middle_tok, True), Segment(prompt.middle)]
            return [s for s in segs if s.text]
        segs += [
            Segment(self.prefix_tok, True),
            prefix,
            Segment(self.suffix_tok, True),
            Segment(self.suffix_pad + prompt.suffix),
            Segment(self.middle_tok, True),
            Segment(prompt.middle),
        ]
        return [s for s in segs if s.text]

    def _header(self, prompt: Prompt) -> Iterable[Segment]:
        """Repository context, only when there are other files to show.

        Measured here: the repo-level header alone (repo name + path, no other files) made the
        Qwen2.5-Coder 0.5B test model write prose and stray calls instead of the function body.
        """
        if not prompt.extra:
            return
        if self.file_sep_tok:
            if self.repo_name_tok and prompt.repo:
                yield Segment(self.repo_name_tok, True)
                yield Segment(prompt.repo + "\n")
            for chunk in prompt.extra:
                yield Segment(self.file_sep_tok, True)
                yield Segment(f"{chunk.path}\n{chunk.text}\n")
            yield Segment(self.file_sep_tok, True)
            yield Segment(f"{prompt.path}\n")
        else:
            for chunk in prompt.extra:
                yield Segment(f"{_comment_header(chunk.path)}\n{chunk.text}\n\n")

    def render_text(self, prompt: Prompt) -> str:
        """The prompt as one string, for remote engines that accept raw FIM tokens."""
        return "".join(s.text for s in self.render(prompt))


def _comment_header(path: str) -> str:
    return f"# {path}"


QWEN = FimTemplate(
    name="qwen",
    prefix_tok="<|fim_prefix|>",
    suffix_tok="<|fim_suffix|>",
    middle_tok="<|fim_middle|>",
    stop_toks=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>",
               "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    repo_name_tok="<|repo_name|>",
    file_sep_tok="<|file_sep|>",
)
CODEGEMMA = FimTemplate(
    name="codegemma",
    prefix_tok="<|fim_prefix|>",
    suffix_tok="<|fim_suffix|>",
    middle_tok="<|fim_middle|>",
    stop_toks=("<|file_separator|>", "<eos>", "<end_of_turn>", "<|fim_prefix|>"),
)
STARCODER = FimTemplate(
    name="starcoder",
    prefix_tok="<fim_prefix>",
    suffix_tok="<fim_suffix>",
    middle_tok="<fim_middle>",
    stop_toks=("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_pad>"),
    repo_name_tok="<repo_name>",
    file_sep_tok="<file_sep>",
)
STARCODER1 = FimTemplate(
    name="starcoder1",
    prefix_tok="<fim_prefix>",
    suffix_tok="<fim_suffix>",
    middle_tok="<fim_middle>",
    stop_toks=("<|endoftext|>", "<fim_prefix>", "<fim_pad>"),
)
DEEPSEEK = FimTemplate(
    name="deepseek",
    prefix_tok="<｜fim▁begin｜>",
    suffix_tok="<｜fim▁hole｜>",
    middle_tok="<｜fim▁end｜>",
    stop_toks=("<|EOT|>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>"),
)
CODELLAMA = FimTemplate(
    name="codellama",
    prefix_tok="<PRE>",
    suffix_tok="<SUF>",
    middle_tok="<MID>",
    stop_toks=("<EOT>", "</s>"),
    prefix_pad=" ",
    suffix_pad=" ",
)
CODESTRAL = FimTemplate(
    name="codestral",
    prefix_tok="[PREFIX]",
    suffix_tok="[SUFFIX]",
    middle_tok="",
    stop_toks=("</s>", "[PREFIX]", "[SUFFIX]"),
    suffix_first=True,
)

TEMPLATES: dict[str, FimTemplate] = {
    t.name: t for t in (QWEN, CODEGEMMA, STARCODER, STARCODER1, DEEPSEEK, CODELLAMA, CODESTRAL)
}


class NoFimSupport(ValueError):
    """The model's vocabulary has no fill-in-the-middle tokens."""


def detect_template(
    has_token: Callable[[str], bool],
    architecture: str = "",
    gguf_fim: tuple[str, str, str] | None = None,
) -> FimTemplate:
    """Pick the template whose control tokens exist in the vocabulary.

    ``gguf_fim`` holds the texts of the tokenizer.ggml.fim_{pre,suf,mid}_token_id tokens when the
    GGUF declares them; an unknown family that declares them gets a generic PSM template.
    """
    arch = architecture.lower()
    if has_token("[SUFFIX]") and has_token("[PREFIX]"):
        return CODESTRAL
    if all(has_token(t) for t in DEEPSEEK.required_tokens):
        return DEEPSEEK
    if all(has_token(t) for t in QWEN.required_tokens):
        if "gemma" in arch or has_token("<|file_separator|>"):
            return CODEGEMMA
        return QWEN
    if all(has_token(t) for t in STARCODER.required_tokens):
        return STARCODER if has_token("<file_sep>") else STARCODER1
    if all(has_token(t) for t in CODELLAMA.required_tokens):
        return CODELLAMA
    if gguf_fim and all(gguf_fim):
        pre, suf, mid = gguf_fim
        return FimTemplate(name="gguf", prefix_tok=pre, suffix_tok=suf, middle_tok=mid)
    raise NoFimSupport(
        "this model has no fill-in-the-middle tokens; pick a code model with FIM support "
        "(e.g. Qwen2.5-Coder, StarCoder2, DeepSeek-Coder, CodeLlama, CodeGemma, Codestral)"
    )


def template_by_name(name: str) -> FimTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise ValueError(f"unknown FIM template {name!r}; known: auto, {known}") from None


# Checked in order: the first family whose name appears in the model name wins, so the more
# specific names come first ("starcoder2" before "starcoder", "codegemma" before "gemma").
NAME_HINTS: tuple[tuple[str, FimTemplate], ...] = (
    ("qwen", QWEN),
    ("starcoder2", STARCODER),
    ("starcoder", STARCODER1),
    ("santacoder", STARCODER1),
    ("deepseek", DEEPSEEK),
    ("codellama", CODELLAMA),
    ("code-llama", CODELLAMA),
    ("codegemma", CODEGEMMA),
    ("codestral", CODESTRAL),
)


def guess_template(model_name: str) -> FimTemplate | None:
    """The FIM template a model name suggests, or None when it names no family we know."""
    name = model_name.lower().replace("_", "-")
    for hint, template in NAME_HINTS:
        if hint in name:
            return template
    return None


@dataclass(frozen=True)
class ModelHints:
    """What an engine could learn about its model that tells the FIM format.

    The vocabulary is the best witness; a remote engine that cannot ask it (an OpenAI-compatible
    server, Ollama) only knows the model's name.
    """

    has_token: Callable[[str], bool] | None = None  # the vocabulary has this control token
    architecture: str = ""  # GGUF ``general.architecture``
    gguf_fim: tuple[str, str, str] | None = None  # texts of the GGUF's declared FIM tokens
    name: str | None = None  # the model's name; None: do not guess from it


def choose_template(setting: str, hints: ModelHints) -> FimTemplate:
    """The FIM template for a model: the ``fimTemplate`` setting unless it is auto (or empty),
    else the vocabulary's control tokens, else a guess from the model's name.

    Raises `NoFimSupport` when nothing tells the format, ValueError for an unknown setting.
    """
    if setting and setting != "auto":
        return template_by_name(setting)
    if hints.has_token is not None:
        try:
            return detect_template(hints.has_token, hints.architecture, hints.gguf_fim)
        except NoFimSupport:
            if hints.name is None:
                raise
    template = guess_template(hints.name or "")
    if template is None:
        raise NoFimSupport(f"cannot tell the FIM prompt format of model {hints.name!r}")
    return template
