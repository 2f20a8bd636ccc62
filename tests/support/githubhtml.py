"""A comment as GitHub shows it: rendered by GitHub's cmark-gfm (the ``cmarkgfm`` package) and parsed into a tree,
with the element and attribute allow-list of GitHub's HTML sanitiser to check it against.

Rendering: raw HTML kept (``CMARK_OPT_UNSAFE``), then GitHub's extensions (table, strikethrough, autolink,
tagfilter, tasklist) and ``GITHUB_PRE_LANG`` (```` ```mermaid ```` → ``<pre lang="mermaid">``); that is what
github.com feeds its sanitiser. GitHub publishes no list for the sanitiser; the public reference is the
``ALLOWLIST`` of html-pipeline 2.x (github.com/gjtorikian/html-pipeline, lib/html/pipeline/sanitization_filter.rb,
commit 7c7fad1f), which github/markup's README pointed to until 2018. Copied here as data, an approximation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options


def _words(text: str) -> list[str]:
    """The lists below, space-separated as html-pipeline publishes them."""
    return text.split()


ALLOWED_ELEMENTS = frozenset(_words(
    "h1 h2 h3 h4 h5 h6 h7 h8 br b i strong em a pre code img tt div ins del sup sub p ol ul table thead tbody "
    "tfoot blockquote dl dt dd kbd q samp var hr ruby rt rp li tr td th s strike summary details caption figure "
    "figcaption abbr bdo cite dfn mark small span time wbr")
)
ALLOWED_ATTRIBUTES_ANYWHERE = frozenset(_words(
    "abbr accept accept-charset accesskey action align alt aria-describedby aria-hidden aria-label aria-labelledby "
    "axis border cellpadding cellspacing char charoff charset checked clear cols colspan color compact coords "
    "datetime dir disabled enctype for frame headers height hreflang hspace ismap label lang maxlength media method "
    "multiple name nohref noshade nowrap open progress prompt readonly rel rev role rows rowspan rules scope "
    "selected shape size span start summary tabindex target title type usemap valign value vspace width "
    "itemprop")
)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "longdesc"}, "div": {"itemscope", "itemtype"},
                      "blockquote": {"cite"}, "del": {"cite"}, "ins": {"cite"}, "q": {"cite"}}  # fmt: skip
ALLOWED_LINK_SCHEMES = ("http:", "https:", "mailto:", "#", "/")
VOID = frozenset({"br", "img", "hr", "wbr", "input"})


def render(markdown: str) -> str:
    """``markdown`` as github.com renders it, before its sanitiser."""
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))


@dataclass
class Element:
    """One HTML element: its tag, attributes, children (elements or text) in order."""

    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def find_all(self, tag: str) -> list[Element]:
        """Every descendant element named ``tag``, in document order."""
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    found.append(child)
                found.extend(child.find_all(tag))
        return found

    def text(self) -> str:
        """The text inside, tags dropped."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> list[Element]:
        """This element and every descendant element."""
        out = [self]
        for child in self.children:
            if isinstance(child, Element):
                out.extend(child.walk())
        return out


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root")
        self.stack = [self.root]
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1].tag}>")
            if tag in (e.tag for e in self.stack):
                while self.stack[-1].tag != tag:
                    self.stack.pop()
            else:
                return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> tuple[Element, list[str]]:
    """The tree of ``html``, and every nesting problem (an end tag that closes another element, one left open)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    problems = builder.problems + [f"<{e.tag}> never closed" for e in builder.stack[1:]]
    return builder.root, problems


def sanitiser_violations(root: Element) -> list[str]:
    """What GitHub's sanitiser would remove: elements and attributes outside the allow-list, unsafe links."""
    out = []
    for element in root.walk()[1:]:
        if element.tag not in ALLOWED_ELEMENTS:
            out.append(f"<{element.tag}>")
        for name, value in element.attrs.items():
            if name not in ALLOWED_ATTRIBUTES_ANYWHERE and name not in ALLOWED_ATTRIBUTES.get(element.tag, ()):
                out.append(f"<{element.tag} {name}=>")
            if name in {"href", "src"} and value is not None and not value.lower().startswith(ALLOWED_LINK_SCHEMES):
                out.append(f"<{element.tag} {name}={value!r}>")
    return out


def table_shape(table: Element) -> tuple[list[str], list[int]]:
    """A table's header texts and the number of cells in each body row."""
    header = [th.text().strip() for th in table.find_all("th")]
    rows = [len(tr.find_all("td")) for tr in table.find_all("tr") if tr.find_all("td")]
    return header, rows


# What GitHub acts on in the rendered text (outside code, pre and links): @mentions notify, issue
# references and links to issues leave a cross-reference in the other issue.
MENTION = re.compile(r"(?:^|[^\w`])@[A-Za-z0-9][A-Za-z0-9-]*", re.ASCII)
REFERENCE = re.compile(r"(?:^|[^\w&])(?:[\w.-]+/[\w.-]+)?#\d+|\bGH-\d+", re.ASCII | re.IGNORECASE)
ISSUE_LINK = re.compile(r"(?:https?://|www\.)(?:www\.)?github\.com/[\w.-]+/[\w.-]+/(?:issues|pull|discussions)/\d+",
                        re.IGNORECASE)  # fmt: skip
_NOT_SCANNED = frozenset({"code", "pre", "a"})


def _scanned(element: Element) -> str:
    return "".join(c if isinstance(c, str) else ("" if c.tag in _NOT_SCANNED else _scanned(c)) for c in element.children)


@dataclass(frozen=True)
class Rendered:
    """A comment as GitHub would see it: the HTML, its tree, and what GitHub would act on."""

    html: str
    root: Element
    nesting: tuple[str, ...]

    @property
    def links(self) -> list[str]:
        return [a.attrs.get("href") or "" for a in self.root.find_all("a")]

    @property
    def text(self) -> str:
        return self.root.text()

    def problems(self, allowed_links: frozenset[str] = frozenset()) -> list[str]:
        """Broken nesting, what the sanitiser removes, foreign links and images, mentions and references."""
        scanned = _scanned(self.root)
        found = [*self.nesting, *sanitiser_violations(self.root)]
        found += [f"link {href}" for href in self.links if href not in allowed_links]
        found += [f"image {img.attrs.get('src')}" for img in self.root.find_all("img")]
        found += [f"mention {m.group().strip()}" for m in MENTION.finditer(scanned)]
        found += [f"reference {m.group().strip()}" for m in REFERENCE.finditer(scanned)]
        found += [f"issue link {m.group()}" for m in ISSUE_LINK.finditer(scanned)]
        return found


def as_github(markdown: str) -> Rendered:
    """Render ``markdown`` as github.com does and take it apart."""
    html = render(markdown)
    root, nesting = parse(html)
    return Rendered(html, root, tuple(nesting))
