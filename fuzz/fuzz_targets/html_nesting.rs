//! The HTML nesting guard on markup made to fool a tag count: each input byte picks a
//! piece (stray end tags, `<div/>`, formatting the parser re-opens, tables, SVG, raw
//! text…), the first byte how often the whole repeats. `sanitize_html` answers within
//! seconds with well-formed, escaped output no deeper than the limit; and whenever the
//! guard lets markup through to the parser, the parser really stays within the guard's
//! bound (checked against ammonia keeping every element).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use newsletter::domain::article::{parser_depth_bound, sanitize_html};
use newsletter::limits::HTML_DEPTH;

#[path = "../../tests/support/markup.rs"]
mod markup;
use markup::{dangerous_markup, elements};

/// Pieces of markup; `N` becomes the piece's position, so that formatting elements differ
/// (the parser re-opens at most three equal ones).
const PIECES: &[&str] = &[
    "<div>",
    "</div>",
    "</x>",
    "<x>",
    "<div/>",
    "<span/>",
    "<p>",
    "</p>",
    "<p/>",
    "<b>",
    "</b>",
    "<b id=N>",
    "<i class=N>",
    "</i>",
    "<a>",
    "<a href=N>",
    "</a>",
    "<span>",
    "</span>",
    "<table>",
    "</table>",
    "<tr>",
    "</tr>",
    "<td>",
    "</td>",
    "<th>",
    "<tbody>",
    "<caption>",
    "</caption>",
    "<colgroup>",
    "<col>",
    "<li>",
    "</li>",
    "<ul>",
    "</ul>",
    "<dl>",
    "<dd>",
    "<dt>",
    "<select>",
    "</select>",
    "<option>",
    "<optgroup>",
    "<svg>",
    "</svg>",
    "<path/>",
    "<g>",
    "</g>",
    "<foreignObject>",
    "<desc>",
    "<math>",
    "</math>",
    "<mi>",
    "<mtext>",
    "<nobr>",
    "</nobr>",
    "<font color=red>",
    "<font>",
    "</font>",
    "<h1>",
    "</h2>",
    "<button>",
    "</button>",
    "<form>",
    "</form>",
    "<object>",
    "</object>",
    "<marquee>",
    "<ruby>",
    "<rt>",
    "<rb>",
    "text",
    " ",
    "\n",
    "&amp;",
    "&#32;",
    "<br>",
    "</br>",
    "<img src=x>",
    "<hr>",
    "<input>",
    "<input type=hidden>",
    "<pre>",
    "<listing>",
    "<textarea>",
    "</textarea>",
    "<title>",
    "</title>",
    "<style>",
    "</style>",
    "<script>",
    "</script>",
    "<script><!--",
    "<!--",
    "-->",
    "<!---->",
    "<![CDATA[",
    "]]>",
    "<!DOCTYPE x>",
    "<?x>",
    "</>",
    "</ x>",
    "<template>",
    "</template>",
    "<plaintext>",
    "<xmp>",
    "</xmp>",
    "<iframe>",
    "</iframe>",
    "<noscript>",
    "</noscript>",
    "<em>",
    "</em>",
    "<strong>",
    "<code>",
    "<u>",
    "</u>",
    "<blockquote>",
    "</blockquote>",
    "<figure>",
    "<section>",
    "<article>",
    "<center>",
    "<address>",
    "<div title=\"</div>\">",
    "<b class=&amp;N>",
    "<frameset>",
    "<body>",
    "<html>",
    "\0",
];

/// Every element name in [`PIECES`] that ammonia can keep, for the depth check.
const KEPT: &[&str] = &[
    "div",
    "x",
    "span",
    "p",
    "b",
    "i",
    "a",
    "table",
    "tbody",
    "tr",
    "td",
    "th",
    "caption",
    "colgroup",
    "col",
    "li",
    "ul",
    "dl",
    "dd",
    "dt",
    "select",
    "option",
    "optgroup",
    "nobr",
    "font",
    "h1",
    "h2",
    "button",
    "form",
    "object",
    "marquee",
    "ruby",
    "rt",
    "rb",
    "br",
    "img",
    "hr",
    "input",
    "pre",
    "listing",
    "em",
    "strong",
    "code",
    "u",
    "blockquote",
    "figure",
    "section",
    "article",
    "center",
    "address",
    "template",
    "frameset",
];

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// How deep serialised HTML nests, if every element in it is closed in order.
fn nesting(html: &str) -> Result<usize, String> {
    let mut open: Vec<String> = Vec::new();
    let mut deepest = 0;
    for (name, _) in elements(html) {
        if let Some(closed) = name.strip_prefix('/') {
            match open.pop() {
                Some(top) if top == closed => {}
                other => return Err(format!("</{closed}> closes {other:?}")),
            }
        } else if !VOID.contains(&name.as_str()) {
            open.push(name);
            deepest = deepest.max(open.len());
        }
    }
    if open.is_empty() {
        Ok(deepest)
    } else {
        Err(format!("left open: {open:?}"))
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&repeat, pieces)) = bytes.split_first() else {
        return;
    };
    let unit: String = pieces
        .iter()
        .take(16)
        .enumerate()
        .map(|(at, &b)| PIECES[b as usize % PIECES.len()].replace('N', &at.to_string()))
        .collect();
    // Mostly a few repeats (an under-estimate shows as soon as it adds up to two), and
    // for a quarter of the inputs enough to pass the depth limit.
    let times = if repeat >= 192 {
        300
    } else {
        1 + repeat as usize / 8
    };
    let html = unit.repeat(times);

    let started = Instant::now();
    let clean = sanitize_html(&html);
    let took = started.elapsed();

    assert!(took < Duration::from_secs(3), "took {took:?}");
    if let Some(danger) = dangerous_markup(&clean) {
        panic!("{danger} survived: {clean}");
    }
    let depth = nesting(&clean).unwrap_or_else(|e| panic!("not well formed ({e}): {clean}"));
    assert!(depth <= HTML_DEPTH, "the output nests {depth} deep");
    assert!(parser_depth_bound(&clean, HTML_DEPTH) <= HTML_DEPTH);

    let bound = parser_depth_bound(&html, HTML_DEPTH);
    if bound <= HTML_DEPTH {
        // Let through to the parser: it must not nest deeper than the bound (one more for
        // an element inserted without being opened, such as `<br>` or `<path/>`).
        let mut everything = ammonia::Builder::empty();
        everything.add_tags(KEPT);
        let parsed = everything.clean(&html).to_string();
        let real = nesting(&parsed).unwrap_or_else(|e| panic!("{e}: {parsed}"));
        assert!(real <= bound + 1, "bound {bound}, parser {real}: {unit:?}");
    }
});
