//! How deep the HTML parser will nest a fragment, found in one linear pass before the
//! parser runs: html5ever's work grows with the square of its stack of open elements.
//!
//! Counting `<x>` against `</x>` is not enough: the parser ignores an end tag with nothing
//! of its name open or with a block element in the way (`<span><div></span>`), ignores
//! `/>` on an HTML element (`<div/>` opens a div), and re-opens formatting elements that
//! an end tag closed too early (`<p><b id=1></p>x` leaves one more `<b>` open on every
//! repeat). So this module replays html5ever's tree builder on a model of its stack of
//! open elements and its list of active formatting elements, for what real articles
//! contain: body content, tables, SVG and MathML, raw text elements.
//!
//! The estimate must never be lower than the parser's depth. Where the model stops being
//! exact (a `<template>`, `<plaintext>`, an ambiguous attribute, script text that may
//! hide its end tag, …) it switches to a bound that holds whatever the parser does: from
//! there on no element is closed, and every `<` followed by a letter counts as up to three
//! new elements (a `<td>` straight in a `<table>` also opens `<tbody>` and `<tr>`), plus
//! one for every formatting element the parser could re-open.
//!
//! The parser's deadline (`sanitize_html`'s reader) stays the backstop for any gap here.

/// The largest depth the model reaches on `html`, counting from the fragment's root; it
/// stops counting once past `limit`, so its work is linear in `html`.
pub(super) fn depth_bound(html: &str, limit: usize) -> usize {
    let mut model = Model::new(limit);
    let mut scanner = Scanner {
        src: html.as_bytes(),
        pos: 0,
    };
    loop {
        let token_start = scanner.pos;
        // The bound the fallback starts from must hold for the state *before* this token,
        // as a token that turns out unsupported may have changed the model half-way.
        let before = model.depth() + model.active.len() + 1;
        let token = scanner.next(&mut model);
        let outcome = match token {
            Ok(Token::Eof) => return model.max,
            Ok(token) => model.process(token),
            Err(stop) => Err(stop),
        };
        match outcome {
            Ok(()) => {}
            Err(Stop::TooDeep) => return model.max,
            Err(Stop::Unsupported) => {
                return model
                    .max
                    .max(count_tags_from(html, token_start, before, limit));
            }
        }
    }
}

/// The bound that holds whatever the parser does from byte `from` on: no element closes,
/// and each start tag opens at most three (`<td>` in a bare table: tbody, tr, td).
fn count_tags_from(html: &str, from: usize, mut depth: usize, limit: usize) -> usize {
    let bytes = html.as_bytes();
    let mut at = from;
    while depth <= limit {
        let Some(offset) = bytes[at..].iter().position(|&b| b == b'<') else {
            break;
        };
        at += offset + 1;
        if !bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        // Only `td`, `th` and `tr` weigh more; a longer name need not be read to its end.
        let two = bytes.get(at..at + 2).map(<[u8]>::to_ascii_lowercase);
        let ends = bytes
            .get(at + 2)
            .is_none_or(|&b| is_space(b) || b == b'/' || b == b'>');
        depth += match two.as_deref() {
            Some(b"td" | b"th") if ends => 3,
            Some(b"tr") if ends => 2,
            _ => 1,
        };
    }
    depth
}

/// Why the model stopped before the end of the input.
#[derive(Debug)]
enum Stop {
    /// Deeper than the limit: the answer is known.
    TooDeep,
    /// Something the model does not replay exactly; the caller falls back to counting.
    Unsupported,
}

type Step = Result<(), Stop>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Html,
    Svg,
    MathMl,
}

#[derive(Debug)]
struct Element {
    /// ASCII-lowercased, as the tokenizer gives it (SVG's camelCase names compare the same).
    name: String,
    ns: Ns,
    /// Identity, so that the formatting list and the form pointer can name an element.
    id: u32,
    /// Which of the parser's element categories it is in, worked out once: the stack is
    /// walked for most tokens.
    kind: u8,
}

// Bits of `Element::kind`.
const SPECIAL_KIND: u8 = 1;
const BOUNDS_DEFAULT_SCOPE: u8 = 1 << 1;
const BOUNDS_LIST_ITEM_SCOPE: u8 = 1 << 2;
const BOUNDS_BUTTON_SCOPE: u8 = 1 << 3;
const BOUNDS_TABLE_SCOPE: u8 = 1 << 4;
const MATHML_TEXT_INTEGRATION: u8 = 1 << 5;
const HTML_INTEGRATION: u8 = 1 << 6;

impl Element {
    fn new(name: &str, ns: Ns, id: u32) -> Element {
        let html_in = |names: &[&str]| ns == Ns::Html && names.contains(&name);
        let mut kind = 0;
        if html_in(SPECIAL) {
            kind |= SPECIAL_KIND;
        }
        if ns == Ns::MathMl && ["mi", "mo", "mn", "ms", "mtext"].contains(&name) {
            kind |= MATHML_TEXT_INTEGRATION;
        }
        if ns == Ns::Svg && ["foreignobject", "desc", "title"].contains(&name) {
            kind |= HTML_INTEGRATION;
        }
        // html5ever's `default_scope` and the scopes built on it.
        if kind & (MATHML_TEXT_INTEGRATION | HTML_INTEGRATION) != 0
            || html_in(&[
                "applet", "caption", "html", "table", "td", "th", "marquee", "object", "select",
                "template",
            ])
        {
            kind |= BOUNDS_DEFAULT_SCOPE | BOUNDS_LIST_ITEM_SCOPE | BOUNDS_BUTTON_SCOPE;
        }
        if html_in(&["ol", "ul"]) {
            kind |= BOUNDS_LIST_ITEM_SCOPE;
        }
        if html_in(&["button"]) {
            kind |= BOUNDS_BUTTON_SCOPE;
        }
        if html_in(&["html", "table", "template"]) {
            kind |= BOUNDS_TABLE_SCOPE;
        }
        Element {
            name: name.to_owned(),
            ns,
            id,
            kind,
        }
    }

    fn is_html(&self, name: &str) -> bool {
        self.ns == Ns::Html && self.name == name
    }

    fn is_html_in(&self, names: &[&str]) -> bool {
        self.ns == Ns::Html && names.contains(&self.name.as_str())
    }

    fn is_mathml_text_integration_point(&self) -> bool {
        self.kind & MATHML_TEXT_INTEGRATION != 0
    }

    fn is_html_integration_point(&self) -> bool {
        self.kind & HTML_INTEGRATION != 0
    }

    fn bounds_scope(&self, scope: Scope) -> bool {
        let bit = match scope {
            Scope::Default => BOUNDS_DEFAULT_SCOPE,
            Scope::ListItem => BOUNDS_LIST_ITEM_SCOPE,
            Scope::Button => BOUNDS_BUTTON_SCOPE,
            Scope::Table => BOUNDS_TABLE_SCOPE,
        };
        self.kind & bit != 0
    }

    fn is_special(&self) -> bool {
        self.kind & SPECIAL_KIND != 0
    }
}

#[derive(Debug, Clone, Copy)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
}

/// html5ever's `special_tag` set (HTML namespace only).
#[rustfmt::skip]
const SPECIAL: &[&str] = &[
    "address", "applet", "area", "article", "aside", "base", "basefont", "bgsound",
    "blockquote", "body", "br", "button", "caption", "center", "col", "colgroup", "dd",
    "details", "dir", "div", "dl", "dt", "embed", "fieldset", "figcaption", "figure",
    "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head",
    "header", "hgroup", "hr", "html", "iframe", "img", "input", "isindex", "li", "link",
    "listing", "main", "marquee", "menu", "meta", "nav", "noembed", "noframes", "noscript",
    "object", "ol", "p", "param", "plaintext", "pre", "script", "section", "select",
    "source", "style", "summary", "table", "tbody", "td", "template", "textarea", "tfoot",
    "th", "thead", "title", "tr", "track", "ul", "wbr", "xmp",
];

/// Elements an end tag may close on its way (html5ever's `cursory_implied_end`).
const IMPLIED_END: &[&str] = &[
    "dd", "dt", "li", "option", "optgroup", "p", "rb", "rp", "rt", "rtc",
];

const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];

/// Start tags that make the parser leave SVG or MathML (html5ever's list).
#[rustfmt::skip]
const BREAKOUT: &[&str] = &[
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt",
    "em", "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
    "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span",
    "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Body,
    Table,
    TableBody,
    Row,
    Cell,
    Caption,
    ColumnGroup,
}

#[derive(Debug)]
enum Entry {
    Marker,
    Formatting {
        id: u32,
        name: String,
        /// Sorted name/value pairs; `None` when the raw text leaves them uncertain
        /// (character references, NUL, CR), which matters only for the "Noah's Ark" rule.
        attrs: Option<Vec<(String, String)>>,
    },
}

/// The text between two tags, as far as the tree builder cares.
#[derive(Debug, Clone, Copy)]
struct Text {
    /// Any character at all, NUL aside (NUL alone is dropped in body content).
    any: bool,
    /// Any character that is not HTML whitespace (NUL and `&` aside).
    non_space: bool,
    /// A character reference that may decode to whitespace (the scanner does not decode).
    reference: bool,
    /// A NUL character.
    nul: bool,
    /// Leading HTML whitespace before the first other character.
    only_space: bool,
}

#[derive(Debug)]
struct Tag {
    name: String,
    end: bool,
    self_closing: bool,
    /// Sorted, first of each name kept; `None` if uncertain (see [`Entry`]).
    attrs: Option<Vec<(String, String)>>,
    attr_names: Vec<String>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<Option<&str>> {
        self.attrs.as_ref().map(|attrs| {
            attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        })
    }
}

#[derive(Debug)]
enum Token {
    Tag(Tag),
    Text(Text),
    Eof,
}

/// Text-only content the tokenizer switches to after certain start tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// `title`, `textarea`: up to the matching end tag.
    Rcdata,
    /// `style`, `xmp`, `iframe`, `noembed`, `noframes`, `noscript`: likewise.
    Rawtext,
    /// `script`, whose comment-like escapes can hide its end tag.
    Script,
}

/// html5ever's stack of open elements and list of active formatting elements, with the
/// insertion mode, the form pointer and the "ignore a leading newline" flag.
struct Model {
    stack: Vec<Element>,
    active: Vec<Entry>,
    /// Whether each element id is on the stack.
    open: Vec<bool>,
    mode: Mode,
    form: Option<u32>,
    ignore_lf: bool,
    /// Set by a start tag that switches the tokenizer to raw text.
    raw: Option<(Raw, String)>,
    /// Elements taken off the middle of the stack (a misnested `<a>`, a closed `<form>`)
    /// that stay ancestors of what follows in the tree: for each, how many elements of
    /// the stack are below it. One no longer counts once everything above it is closed.
    ghosts: Vec<usize>,
    limit: usize,
    max: usize,
}

impl Model {
    fn new(limit: usize) -> Model {
        let mut model = Model {
            stack: Vec::new(),
            active: Vec::new(),
            open: Vec::new(),
            mode: Mode::Body,
            form: None,
            ignore_lf: false,
            raw: None,
            ghosts: Vec::new(),
            limit,
            max: 0,
        };
        // A fragment is parsed under an `<html>` root, in the context of a `<div>`.
        let id = model.new_id();
        model.open[id as usize] = true;
        model.stack.push(Element::new("html", Ns::Html, id));
        model
    }

    fn new_id(&mut self) -> u32 {
        self.open.push(false);
        (self.open.len() - 1) as u32
    }

    /// How deep the current node is in the tree (the stack, and ghosts above which
    /// elements are still open).
    fn depth(&self) -> usize {
        self.stack.len() - 1 + self.ghosts.len()
    }

    fn note_depth(&mut self, depth: usize) -> Step {
        self.max = self.max.max(depth);
        if depth > self.limit {
            Err(Stop::TooDeep)
        } else {
            Ok(())
        }
    }

    fn push(&mut self, name: &str, ns: Ns) -> Result<u32, Stop> {
        let id = self.new_id();
        self.open[id as usize] = true;
        self.stack.push(Element::new(name, ns, id));
        self.note_depth(self.depth())?;
        Ok(id)
    }

    fn pop(&mut self) -> Step {
        if self.stack.len() <= 1 {
            // html5ever never pops its root in body content; if the model would, it has
            // lost track.
            return Err(Stop::Unsupported);
        }
        let element = self.stack.pop().expect("more than the root");
        self.open[element.id as usize] = false;
        let len = self.stack.len();
        self.ghosts.retain(|&below| len > below);
        Ok(())
    }

    fn truncate(&mut self, len: usize) -> Step {
        while self.stack.len() > len {
            self.pop()?;
        }
        Ok(())
    }

    fn remove_at(&mut self, index: usize) -> Step {
        if index == 0 {
            return Err(Stop::Unsupported);
        }
        let element = self.stack.remove(index);
        self.open[element.id as usize] = false;
        for below in &mut self.ghosts {
            if index < *below {
                *below -= 1;
            }
        }
        let len = self.stack.len();
        self.ghosts.retain(|&below| len > below);
        Ok(())
    }

    /// Takes an element off the middle of the stack while it stays in the tree as an
    /// ancestor of the elements above it.
    fn remove_keeping_ancestor(&mut self, index: usize) -> Step {
        self.remove_at(index)?;
        if self.stack.len() > index {
            self.ghosts.push(index);
        }
        Ok(())
    }

    /// Puts an element into the middle of the stack (the adoption agency's new element).
    fn insert_at(&mut self, index: usize, element: Element) {
        self.open[element.id as usize] = true;
        self.stack.insert(index, element);
        for below in &mut self.ghosts {
            if index < *below {
                *below += 1;
            }
        }
    }

    fn current(&self) -> &Element {
        self.stack.last().expect("the root is never popped")
    }

    /// Whether the parser treats the next token as foreign content, given its kind.
    fn in_foreign(&self, token: &Token) -> Result<bool, Stop> {
        // With only the root open, the adjusted current node is the `<div>` context.
        if self.stack.len() == 1 {
            return Ok(false);
        }
        let current = self.current();
        if current.ns == Ns::Html {
            return Ok(false);
        }
        let start_or_text = match token {
            Token::Text(_) => true,
            Token::Tag(tag) => !tag.end,
            Token::Eof => return Ok(false),
        };
        if current.is_mathml_text_integration_point() {
            let glyph =
                matches!(token, Token::Tag(t) if t.name == "mglyph" || t.name == "malignmark");
            if start_or_text && !glyph {
                return Ok(false);
            }
        }
        if current.is_html_integration_point() && start_or_text {
            return Ok(false);
        }
        if current.ns == Ns::MathMl && current.name == "annotation-xml" {
            // Whether it is an integration point depends on its `encoding`.
            return Err(Stop::Unsupported);
        }
        Ok(true)
    }

    fn in_scope(&self, scope: Scope, matches: impl Fn(&Element) -> bool) -> bool {
        for element in self.stack.iter().rev() {
            if matches(element) {
                return true;
            }
            if element.bounds_scope(scope) {
                return false;
            }
        }
        false
    }

    fn in_scope_named(&self, scope: Scope, name: &str) -> bool {
        self.in_scope(scope, |e| e.is_html(name))
    }

    fn has_open_html(&self, name: &str) -> bool {
        self.stack.iter().any(|e| e.is_html(name))
    }

    fn generate_implied_end_tags(&mut self, except: Option<&str>) -> Step {
        while self.current().is_html_in(IMPLIED_END) && except != Some(&self.current().name) {
            self.pop()?;
        }
        Ok(())
    }

    /// Pops until an HTML element named `name` has been popped.
    fn pop_until_named(&mut self, name: &str) -> Step {
        self.pop_until(|e| e.is_html(name))
    }

    fn pop_until(&mut self, done: impl Fn(&Element) -> bool) -> Step {
        loop {
            let last = done(self.current());
            self.pop()?;
            if last {
                return Ok(());
            }
        }
    }

    /// Pops until the current node is one of `names` (HTML).
    fn pop_until_current(&mut self, names: &[&str]) -> Step {
        while !self.current().is_html_in(names) {
            self.pop()?;
        }
        Ok(())
    }

    fn close_p_element(&mut self) -> Step {
        self.generate_implied_end_tags(Some("p"))?;
        self.pop_until_named("p")
    }

    fn close_p_in_button_scope(&mut self) -> Step {
        if self.in_scope_named(Scope::Button, "p") {
            self.close_p_element()?;
        }
        Ok(())
    }

    fn position_in_active(&self, id: u32) -> Option<usize> {
        self.active
            .iter()
            .position(|e| matches!(e, Entry::Formatting { id: i, .. } if *i == id))
    }

    fn is_marker_or_open(&self, entry: &Entry) -> bool {
        match entry {
            Entry::Marker => true,
            Entry::Formatting { id, .. } => self.open[*id as usize],
        }
    }

    fn reconstruct_active_formatting(&mut self) -> Step {
        match self.active.last() {
            None => return Ok(()),
            Some(last) if self.is_marker_or_open(last) => return Ok(()),
            Some(_) => {}
        }
        let mut index = self.active.len() - 1;
        while index > 0 {
            index -= 1;
            if self.is_marker_or_open(&self.active[index]) {
                index += 1;
                break;
            }
        }
        for at in index..self.active.len() {
            let Entry::Formatting { name, .. } = &self.active[at] else {
                return Err(Stop::Unsupported);
            };
            let name = name.clone();
            let new_id = self.push(&name, Ns::Html)?;
            if let Entry::Formatting { id, .. } = &mut self.active[at] {
                *id = new_id;
            }
        }
        Ok(())
    }

    fn clear_active_to_marker(&mut self) {
        while let Some(entry) = self.active.pop() {
            if matches!(entry, Entry::Marker) {
                break;
            }
        }
    }

    /// Inserts a formatting element and its list entry, applying the "Noah's Ark" rule
    /// (at most three equal entries after the last marker).
    fn push_formatting(&mut self, tag: &Tag) -> Step {
        let mut first_match = None;
        let mut matches = 0;
        let mut uncertain = tag.attrs.is_none();
        for (index, entry) in self.active.iter().enumerate().rev() {
            match entry {
                Entry::Marker => break,
                Entry::Formatting { name, attrs, .. } if *name == tag.name => {
                    match (attrs, &tag.attrs) {
                        (Some(a), Some(b)) if a == b => {
                            first_match = Some(index);
                            matches += 1;
                        }
                        (Some(_), Some(_)) => {}
                        _ => uncertain = true,
                    }
                }
                Entry::Formatting { .. } => {}
            }
        }
        if uncertain {
            let same_name = self
                .active
                .iter()
                .rev()
                .take_while(|e| !matches!(e, Entry::Marker))
                .filter(|e| matches!(e, Entry::Formatting { name, .. } if *name == tag.name))
                .count();
            if same_name >= 3 {
                return Err(Stop::Unsupported);
            }
        }
        if matches >= 3 {
            self.active.remove(first_match.expect("three matches"));
        }
        let id = self.push(&tag.name, Ns::Html)?;
        self.active.push(Entry::Formatting {
            id,
            name: tag.name.clone(),
            attrs: tag.attrs.clone(),
        });
        // Work per token must stay bounded; a list this long is not an article's.
        if self.active.len() > 2 * self.limit.min(1024) + 16 {
            return Err(Stop::Unsupported);
        }
        Ok(())
    }

    /// The adoption agency algorithm, as html5ever runs it, on the stack and list only.
    fn adoption_agency(&mut self, subject: &str) -> Step {
        let current = self.current();
        if current.is_html(subject) && self.position_in_active(current.id).is_none() {
            return self.pop();
        }
        for _ in 0..8 {
            let found = self
                .active
                .iter()
                .enumerate()
                .rev()
                .take_while(|(_, e)| !matches!(e, Entry::Marker))
                .find_map(|(i, e)| match e {
                    Entry::Formatting { id, name, .. } if name == subject => Some((i, *id)),
                    _ => None,
                });
            let Some((fe_index, fe_id)) = found else {
                return self.end_tag_in_body(subject);
            };
            let Some(fe_stack) = self.stack.iter().rposition(|e| e.id == fe_id) else {
                self.active.remove(fe_index);
                return Ok(());
            };
            if !self.in_scope(Scope::Default, |e| e.id == fe_id) {
                return Ok(());
            }
            let Some(fb_stack) = (fe_stack..self.stack.len()).find(|&i| self.stack[i].is_special())
            else {
                self.truncate(fe_stack)?;
                self.active.remove(fe_index);
                return Ok(());
            };
            let fb_id = self.stack[fb_stack].id;
            if fe_stack == 0 {
                return Err(Stop::Unsupported);
            }
            enum Bookmark {
                Replace,
                InsertAfter(u32),
            }
            let mut bookmark = Bookmark::Replace;
            let mut last_is_fb = true;
            let mut node_index = fb_stack;
            let mut inner = 0;
            loop {
                inner += 1;
                node_index -= 1;
                let node_id = self.stack[node_index].id;
                if node_id == fe_id {
                    break;
                }
                if inner > 3 {
                    if let Some(position) = self.position_in_active(node_id) {
                        self.active.remove(position);
                    }
                    self.remove_at(node_index)?;
                    continue;
                }
                let Some(node_entry) = self.position_in_active(node_id) else {
                    self.remove_at(node_index)?;
                    continue;
                };
                let new_id = self.new_id();
                self.open[node_id as usize] = false;
                self.open[new_id as usize] = true;
                self.stack[node_index].id = new_id;
                if let Entry::Formatting { id, .. } = &mut self.active[node_entry] {
                    *id = new_id;
                }
                if last_is_fb {
                    bookmark = Bookmark::InsertAfter(new_id);
                }
                last_is_fb = false;
            }
            let fe_entry = self.position_in_active(fe_id).ok_or(Stop::Unsupported)?;
            let Entry::Formatting { name, attrs, .. } = &self.active[fe_entry] else {
                return Err(Stop::Unsupported);
            };
            let (name, attrs) = (name.clone(), attrs.clone());
            let new_id = self.new_id();
            let new_entry = Entry::Formatting {
                id: new_id,
                name: name.clone(),
                attrs,
            };
            match bookmark {
                Bookmark::Replace => self.active[fe_entry] = new_entry,
                Bookmark::InsertAfter(previous) => {
                    let at = self.position_in_active(previous).ok_or(Stop::Unsupported)?;
                    self.active.insert(at + 1, new_entry);
                    let old = self.position_in_active(fe_id).ok_or(Stop::Unsupported)?;
                    self.active.remove(old);
                }
            }
            let fe_now = self
                .stack
                .iter()
                .rposition(|e| e.id == fe_id)
                .ok_or(Stop::Unsupported)?;
            self.remove_at(fe_now)?;
            let fb_now = self
                .stack
                .iter()
                .position(|e| e.id == fb_id)
                .ok_or(Stop::Unsupported)?;
            self.insert_at(fb_now + 1, Element::new(&name, Ns::Html, new_id));
        }
        Ok(())
    }

    /// html5ever's `process_end_tag_in_body`: the "any other end tag" rule.
    fn end_tag_in_body(&mut self, name: &str) -> Step {
        let mut found = None;
        for (index, element) in self.stack.iter().enumerate().rev() {
            if element.is_html(name) {
                found = Some(index);
                break;
            }
            if element.is_special() {
                return Ok(());
            }
        }
        let Some(index) = found else {
            return Ok(());
        };
        self.generate_implied_end_tags(Some(name))?;
        self.truncate(index)
    }

    fn process(&mut self, token: Token) -> Step {
        // html5ever drops the flag on every token; the scanner already applied it to text.
        self.ignore_lf = false;
        if let Token::Text(text) = &token
            && !text.any
            && !text.nul
        {
            return Ok(());
        }
        self.dispatch(&token)
    }

    fn dispatch(&mut self, token: &Token) -> Step {
        if self.in_foreign(token)? {
            self.foreign(token)
        } else {
            self.step(self.mode, token)
        }
    }

    /// Runs `token` through the rules of insertion mode `mode`.
    fn step(&mut self, mode: Mode, token: &Token) -> Step {
        match mode {
            Mode::Body => self.in_body(token),
            Mode::Table => self.in_table(token),
            Mode::TableBody => self.in_table_body(token),
            Mode::Row => self.in_row(token),
            Mode::Cell => self.in_cell(token),
            Mode::Caption => self.in_caption(token),
            Mode::ColumnGroup => self.in_column_group(token),
        }
    }

    /// Switches mode and processes the token again, as html5ever's `Reprocess` does.
    fn reprocess(&mut self, mode: Mode, token: &Token) -> Step {
        self.mode = mode;
        self.dispatch(token)
    }

    fn foreign(&mut self, token: &Token) -> Step {
        let Token::Tag(tag) = token else {
            return Ok(());
        };
        let breakout = (!tag.end && BREAKOUT.contains(&tag.name.as_str()))
            || (tag.end && (tag.name == "br" || tag.name == "p"))
            || (!tag.end
                && tag.name == "font"
                && tag
                    .attr_names
                    .iter()
                    .any(|n| n == "color" || n == "face" || n == "size"));
        if breakout {
            while !(self.current().ns == Ns::Html
                || self.current().is_mathml_text_integration_point()
                || self.current().is_html_integration_point())
            {
                self.pop()?;
            }
            return self.step(self.mode, token);
        }
        if !tag.end {
            let ns = self.current().ns;
            if ns == Ns::MathMl && tag.name == "annotation-xml" {
                return Err(Stop::Unsupported);
            }
            if !tag.self_closing {
                self.push(&tag.name, ns)?;
            }
            return Ok(());
        }
        let mut index = self.stack.len() - 1;
        let mut first = true;
        loop {
            if index == 0 {
                return Ok(());
            }
            let element = &self.stack[index];
            if !first && element.ns == Ns::Html {
                return self.step(self.mode, token);
            }
            if element.name.eq_ignore_ascii_case(&tag.name) {
                return self.truncate(index);
            }
            first = false;
            index -= 1;
        }
    }

    /// A start tag for an element whose content is raw text: insert it and let the
    /// tokenizer skip to its end tag.
    fn raw_element(&mut self, name: &str, raw: Raw) -> Step {
        self.push(name, Ns::Html)?;
        self.raw = Some((raw, name.to_owned()));
        Ok(())
    }

    fn in_body(&mut self, token: &Token) -> Step {
        let tag = match token {
            Token::Text(text) => {
                if text.any {
                    self.reconstruct_active_formatting()?;
                }
                return Ok(());
            }
            Token::Eof => return Ok(()),
            Token::Tag(tag) => tag,
        };
        let name = tag.name.as_str();
        if tag.end {
            return self.end_in_body(tag);
        }
        match name {
            "html" | "body" | "caption" | "col" | "colgroup" | "frame" | "head" | "tbody"
            | "td" | "tfoot" | "th" | "thead" | "tr" => Ok(()),
            "template" | "frameset" | "plaintext" => Err(Stop::Unsupported),
            "base" | "basefont" | "bgsound" | "link" | "meta" | "param" | "source" | "track" => {
                Ok(())
            }
            "noframes" | "style" | "iframe" | "noembed" | "noscript" => {
                self.raw_element(name, Raw::Rawtext)
            }
            "script" => self.raw_element(name, Raw::Script),
            "title" => self.raw_element(name, Raw::Rcdata),
            "textarea" => {
                self.raw_element(name, Raw::Rcdata)?;
                self.ignore_lf = true;
                Ok(())
            }
            "xmp" => {
                self.close_p_in_button_scope()?;
                self.reconstruct_active_formatting()?;
                self.raw_element(name, Raw::Rawtext)
            }
            "address" | "article" | "aside" | "blockquote" | "center" | "details" | "dialog"
            | "dir" | "div" | "dl" | "fieldset" | "figcaption" | "figure" | "footer" | "header"
            | "hgroup" | "main" | "nav" | "ol" | "p" | "search" | "section" | "summary" | "ul"
            | "menu" => {
                self.close_p_in_button_scope()?;
                self.push(name, Ns::Html).map(drop)
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.close_p_in_button_scope()?;
                if self.current().is_html_in(HEADINGS) {
                    self.pop()?;
                }
                self.push(name, Ns::Html).map(drop)
            }
            "pre" | "listing" => {
                self.close_p_in_button_scope()?;
                self.push(name, Ns::Html)?;
                self.ignore_lf = true;
                Ok(())
            }
            "form" => {
                if self.form.is_some() {
                    return Ok(());
                }
                self.close_p_in_button_scope()?;
                self.form = Some(self.push(name, Ns::Html)?);
                Ok(())
            }
            "li" | "dd" | "dt" => {
                let closes: &[&str] = if name == "li" { &["li"] } else { &["dd", "dt"] };
                let mut to_close = None;
                for element in self.stack.iter().rev() {
                    if element.is_html_in(closes) {
                        to_close = Some(element.name.clone());
                        break;
                    }
                    if element.is_special() && !element.is_html_in(&["address", "div", "p"]) {
                        break;
                    }
                }
                if let Some(close) = to_close {
                    self.generate_implied_end_tags(Some(&close))?;
                    self.pop_until_named(&close)?;
                }
                self.close_p_in_button_scope()?;
                self.push(name, Ns::Html).map(drop)
            }
            "button" => {
                if self.in_scope_named(Scope::Default, "button") {
                    self.generate_implied_end_tags(None)?;
                    self.pop_until_named("button")?;
                }
                self.reconstruct_active_formatting()?;
                self.push(name, Ns::Html).map(drop)
            }
            "a" => {
                let open_a = self
                    .active
                    .iter()
                    .rev()
                    .take_while(|e| !matches!(e, Entry::Marker))
                    .find_map(|e| match e {
                        Entry::Formatting { id, name, .. } if name == "a" => Some(*id),
                        _ => None,
                    });
                if let Some(node) = open_a {
                    self.adoption_agency("a")?;
                    if let Some(position) = self.position_in_active(node) {
                        self.active.remove(position);
                    }
                    if let Some(index) = self.stack.iter().rposition(|e| e.id == node) {
                        self.remove_keeping_ancestor(index)?;
                    }
                }
                self.reconstruct_active_formatting()?;
                self.push_formatting(tag)
            }
            "b" | "big" | "code" | "em" | "font" | "i" | "s" | "small" | "strike" | "strong"
            | "tt" | "u" => {
                self.reconstruct_active_formatting()?;
                self.push_formatting(tag)
            }
            "nobr" => {
                self.reconstruct_active_formatting()?;
                if self.in_scope_named(Scope::Default, "nobr") {
                    self.adoption_agency("nobr")?;
                    self.reconstruct_active_formatting()?;
                }
                self.push_formatting(tag)
            }
            "applet" | "marquee" | "object" => {
                self.reconstruct_active_formatting()?;
                self.push(name, Ns::Html)?;
                self.active.push(Entry::Marker);
                Ok(())
            }
            "table" => {
                self.close_p_in_button_scope()?;
                self.push(name, Ns::Html)?;
                self.mode = Mode::Table;
                Ok(())
            }
            "area" | "br" | "embed" | "img" | "image" | "keygen" | "wbr" => {
                self.reconstruct_active_formatting()
            }
            "input" => {
                if self.in_scope_named(Scope::Default, "select") {
                    self.pop_until_named("select")?;
                }
                self.reconstruct_active_formatting()
            }
            "hr" => {
                self.close_p_in_button_scope()?;
                if self.in_scope_named(Scope::Default, "select") {
                    self.generate_implied_end_tags(None)?;
                }
                Ok(())
            }
            "select" if self.in_scope_named(Scope::Default, "select") => {
                self.pop_until_named("select")
            }
            "select" => {
                self.reconstruct_active_formatting()?;
                self.push(name, Ns::Html).map(drop)
            }
            "option" | "optgroup" => {
                if self.in_scope_named(Scope::Default, "select") {
                    let except = if name == "option" {
                        Some("optgroup")
                    } else {
                        None
                    };
                    self.generate_implied_end_tags(except)?;
                } else if self.current().is_html("option") {
                    self.pop()?;
                }
                self.reconstruct_active_formatting()?;
                self.push(name, Ns::Html).map(drop)
            }
            "rb" | "rtc" | "rp" | "rt" => {
                if self.in_scope_named(Scope::Default, "ruby") {
                    let except = if name == "rp" || name == "rt" {
                        Some("rtc")
                    } else {
                        None
                    };
                    self.generate_implied_end_tags(except)?;
                }
                self.push(name, Ns::Html).map(drop)
            }
            "math" | "svg" => {
                self.reconstruct_active_formatting()?;
                if !tag.self_closing {
                    let ns = if name == "math" { Ns::MathMl } else { Ns::Svg };
                    self.push(name, ns)?;
                }
                Ok(())
            }
            _ => {
                self.reconstruct_active_formatting()?;
                self.push(name, Ns::Html).map(drop)
            }
        }
    }

    fn end_in_body(&mut self, tag: &Tag) -> Step {
        let name = tag.name.as_str();
        match name {
            "template" => {
                if self.has_open_html("template") {
                    return Err(Stop::Unsupported);
                }
                Ok(())
            }
            "body" | "html" => Ok(()),
            "address" | "article" | "aside" | "blockquote" | "button" | "center" | "details"
            | "dialog" | "dir" | "div" | "dl" | "fieldset" | "figcaption" | "figure" | "footer"
            | "header" | "hgroup" | "listing" | "main" | "menu" | "nav" | "ol" | "pre"
            | "search" | "section" | "select" | "summary" | "ul" => {
                if self.in_scope_named(Scope::Default, name) {
                    self.generate_implied_end_tags(None)?;
                    self.pop_until_named(name)?;
                }
                Ok(())
            }
            "form" => {
                let Some(form) = self.form.take() else {
                    return Ok(());
                };
                if !self.in_scope(Scope::Default, |e| e.id == form) {
                    return Ok(());
                }
                self.generate_implied_end_tags(None)?;
                if let Some(index) = self.stack.iter().rposition(|e| e.id == form) {
                    self.remove_keeping_ancestor(index)?;
                }
                Ok(())
            }
            "p" => {
                if !self.in_scope_named(Scope::Button, "p") {
                    self.push("p", Ns::Html)?;
                }
                self.close_p_element()
            }
            "li" | "dd" | "dt" => {
                let scope = if name == "li" {
                    Scope::ListItem
                } else {
                    Scope::Default
                };
                if self.in_scope_named(scope, name) {
                    self.generate_implied_end_tags(Some(name))?;
                    self.pop_until_named(name)?;
                }
                Ok(())
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if self.in_scope(Scope::Default, |e| e.is_html_in(HEADINGS)) {
                    self.generate_implied_end_tags(None)?;
                    self.pop_until(|e| e.is_html_in(HEADINGS))?;
                }
                Ok(())
            }
            _ if FORMATTING.contains(&name) => self.adoption_agency(name),
            "applet" | "marquee" | "object" => {
                if self.in_scope_named(Scope::Default, name) {
                    self.generate_implied_end_tags(None)?;
                    self.pop_until_named(name)?;
                    self.clear_active_to_marker();
                }
                Ok(())
            }
            // `</br>` is read as `<br>`.
            "br" => self.reconstruct_active_formatting(),
            _ => self.end_tag_in_body(name),
        }
    }

    /// Characters in a table go to the table's text, or (if any is not whitespace) are
    /// "foster parented" like body content.
    fn table_text(&mut self, text: &Text) -> Step {
        if self
            .current()
            .is_html_in(&["table", "tbody", "tfoot", "thead", "tr"])
        {
            if text.reference {
                return Err(Stop::Unsupported);
            }
            if text.non_space {
                self.reconstruct_active_formatting()?;
            }
            Ok(())
        } else {
            self.in_body(&Token::Text(*text))
        }
    }

    fn in_table(&mut self, token: &Token) -> Step {
        let tag = match token {
            Token::Text(text) => return self.table_text(text),
            Token::Eof => return Ok(()),
            Token::Tag(tag) => tag,
        };
        let name = tag.name.as_str();
        match (tag.end, name) {
            (false, "caption") => {
                self.pop_until_current(&["html", "table", "template"])?;
                self.active.push(Entry::Marker);
                self.push(name, Ns::Html)?;
                self.mode = Mode::Caption;
                Ok(())
            }
            (false, "colgroup") => {
                self.pop_until_current(&["html", "table", "template"])?;
                self.push(name, Ns::Html)?;
                self.mode = Mode::ColumnGroup;
                Ok(())
            }
            (false, "col") => {
                self.pop_until_current(&["html", "table", "template"])?;
                self.push("colgroup", Ns::Html)?;
                self.reprocess(Mode::ColumnGroup, token)
            }
            (false, "tbody" | "tfoot" | "thead") => {
                self.pop_until_current(&["html", "table", "template"])?;
                self.push(name, Ns::Html)?;
                self.mode = Mode::TableBody;
                Ok(())
            }
            (false, "td" | "th" | "tr") => {
                self.pop_until_current(&["html", "table", "template"])?;
                self.push("tbody", Ns::Html)?;
                self.reprocess(Mode::TableBody, token)
            }
            (false, "table") => {
                if self.in_scope_named(Scope::Table, "table") {
                    self.pop_until_named("table")?;
                    let mode = self.reset_insertion_mode()?;
                    self.reprocess(mode, token)
                } else {
                    Ok(())
                }
            }
            (true, "table") => {
                if self.in_scope_named(Scope::Table, "table") {
                    self.pop_until_named("table")?;
                    self.mode = self.reset_insertion_mode()?;
                }
                Ok(())
            }
            (
                true,
                "body" | "caption" | "col" | "colgroup" | "html" | "tbody" | "td" | "tfoot" | "th"
                | "thead" | "tr",
            ) => Ok(()),
            (false, "style") => self.raw_element(name, Raw::Rawtext),
            (false, "script") => self.raw_element(name, Raw::Script),
            (false, "template") => Err(Stop::Unsupported),
            (true, "template") => self.end_in_body(tag),
            (false, "input") => match tag.attr("type") {
                None => Err(Stop::Unsupported),
                Some(Some(kind)) if kind.eq_ignore_ascii_case("hidden") => Ok(()),
                Some(_) => self.in_body(token),
            },
            (false, "form") => {
                if self.form.is_none() {
                    // Inserted and popped at once: the pointer names a closed element.
                    let id = self.new_id();
                    self.form = Some(id);
                }
                Ok(())
            }
            // Anything else is "foster parented": body rules, the mode stays.
            _ => self.in_body(token),
        }
    }

    fn in_table_body(&mut self, token: &Token) -> Step {
        let Token::Tag(tag) = token else {
            return self.in_table(token);
        };
        let name = tag.name.as_str();
        let context = ["tbody", "tfoot", "thead", "template", "html"];
        match (tag.end, name) {
            (false, "tr") => {
                self.pop_until_current(&context)?;
                self.push(name, Ns::Html)?;
                self.mode = Mode::Row;
                Ok(())
            }
            (false, "th" | "td") => {
                self.pop_until_current(&context)?;
                self.push("tr", Ns::Html)?;
                self.reprocess(Mode::Row, token)
            }
            (true, "tbody" | "tfoot" | "thead") => {
                if self.in_scope_named(Scope::Table, name) {
                    self.pop_until_current(&context)?;
                    self.pop()?;
                    self.mode = Mode::Table;
                }
                Ok(())
            }
            (false, "caption" | "col" | "colgroup" | "tbody" | "tfoot" | "thead")
            | (true, "table") => {
                if self.in_scope(Scope::Table, |e| e.is_html_in(&["table", "tbody", "tfoot"])) {
                    self.pop_until_current(&context)?;
                    self.pop()?;
                    self.reprocess(Mode::Table, token)
                } else {
                    Ok(())
                }
            }
            (true, "body" | "caption" | "col" | "colgroup" | "html" | "td" | "th" | "tr") => Ok(()),
            _ => self.in_table(token),
        }
    }

    fn in_row(&mut self, token: &Token) -> Step {
        let Token::Tag(tag) = token else {
            return self.in_table(token);
        };
        let name = tag.name.as_str();
        let context = ["tr", "template", "html"];
        match (tag.end, name) {
            (false, "th" | "td") => {
                self.pop_until_current(&context)?;
                self.push(name, Ns::Html)?;
                self.mode = Mode::Cell;
                self.active.push(Entry::Marker);
                Ok(())
            }
            (true, "tr") => {
                if self.in_scope_named(Scope::Table, "tr") {
                    self.pop_until_current(&context)?;
                    self.pop()?;
                    self.mode = Mode::TableBody;
                }
                Ok(())
            }
            (false, "caption" | "col" | "colgroup" | "tbody" | "tfoot" | "thead" | "tr")
            | (true, "table") => {
                if self.in_scope_named(Scope::Table, "tr") {
                    self.pop_until_current(&context)?;
                    self.pop()?;
                    self.reprocess(Mode::TableBody, token)
                } else {
                    Ok(())
                }
            }
            (true, "tbody" | "tfoot" | "thead") => {
                if self.in_scope_named(Scope::Table, name)
                    && self.in_scope_named(Scope::Table, "tr")
                {
                    self.pop_until_current(&context)?;
                    self.pop()?;
                    return self.reprocess(Mode::TableBody, token);
                }
                Ok(())
            }
            (true, "body" | "caption" | "col" | "colgroup" | "html" | "td" | "th") => Ok(()),
            _ => self.in_table(token),
        }
    }

    fn close_the_cell(&mut self) -> Step {
        self.generate_implied_end_tags(None)?;
        self.pop_until(|e| e.is_html_in(&["td", "th"]))?;
        self.clear_active_to_marker();
        Ok(())
    }

    fn in_cell(&mut self, token: &Token) -> Step {
        let Token::Tag(tag) = token else {
            return self.in_body(token);
        };
        let name = tag.name.as_str();
        match (tag.end, name) {
            (true, "td" | "th") => {
                if self.in_scope_named(Scope::Table, name) {
                    self.generate_implied_end_tags(None)?;
                    self.pop_until_named(name)?;
                    self.clear_active_to_marker();
                    self.mode = Mode::Row;
                }
                Ok(())
            }
            (
                false,
                "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr",
            ) => {
                if self.in_scope(Scope::Table, |e| e.is_html_in(&["td", "th"])) {
                    self.close_the_cell()?;
                    self.reprocess(Mode::Row, token)
                } else {
                    Ok(())
                }
            }
            (true, "body" | "caption" | "col" | "colgroup" | "html") => Ok(()),
            (true, "table" | "tbody" | "tfoot" | "thead" | "tr") => {
                if self.in_scope_named(Scope::Table, name) {
                    self.close_the_cell()?;
                    self.reprocess(Mode::Row, token)
                } else {
                    Ok(())
                }
            }
            _ => self.in_body(token),
        }
    }

    fn in_caption(&mut self, token: &Token) -> Step {
        let Token::Tag(tag) = token else {
            return self.in_body(token);
        };
        let name = tag.name.as_str();
        match (tag.end, name) {
            (
                false,
                "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr",
            )
            | (true, "table" | "caption") => {
                if self.in_scope_named(Scope::Table, "caption") {
                    self.generate_implied_end_tags(None)?;
                    self.pop_until_named("caption")?;
                    self.clear_active_to_marker();
                    if tag.end && name == "caption" {
                        self.mode = Mode::Table;
                        Ok(())
                    } else {
                        self.reprocess(Mode::Table, token)
                    }
                } else {
                    Ok(())
                }
            }
            (
                true,
                "body" | "col" | "colgroup" | "html" | "tbody" | "td" | "tfoot" | "th" | "thead"
                | "tr",
            ) => Ok(()),
            _ => self.in_body(token),
        }
    }

    fn in_column_group(&mut self, token: &Token) -> Step {
        match token {
            Token::Eof => Ok(()),
            Token::Text(text) => {
                if text.reference || text.nul {
                    return Err(Stop::Unsupported);
                }
                if text.only_space {
                    return Ok(());
                }
                // Leading whitespace is kept in the column group; the rest is "anything
                // else". The rest starts with a non-space, so it is table text with one.
                let rest = Token::Text(Text {
                    any: true,
                    non_space: true,
                    reference: false,
                    nul: false,
                    only_space: false,
                });
                self.column_group_anything_else(&rest)
            }
            Token::Tag(tag) => match (tag.end, tag.name.as_str()) {
                (false, "html") => Ok(()),
                (false, "col") => Ok(()),
                (true, "colgroup") => {
                    if self.current().is_html("colgroup") {
                        self.pop()?;
                        self.mode = Mode::Table;
                    }
                    Ok(())
                }
                (true, "col") => Ok(()),
                (false, "template") => Err(Stop::Unsupported),
                (true, "template") => self.end_in_body(tag),
                _ => self.column_group_anything_else(token),
            },
        }
    }

    fn column_group_anything_else(&mut self, token: &Token) -> Step {
        if self.current().is_html("colgroup") {
            self.pop()?;
            self.reprocess(Mode::Table, token)
        } else {
            Ok(())
        }
    }

    /// html5ever's `reset_insertion_mode`, for a fragment in a `<div>`.
    fn reset_insertion_mode(&self) -> Result<Mode, Stop> {
        for (index, element) in self.stack.iter().enumerate().rev() {
            if element.ns != Ns::Html || index == 0 {
                continue;
            }
            match element.name.as_str() {
                "td" | "th" => return Ok(Mode::Cell),
                "tr" => return Ok(Mode::Row),
                "tbody" | "thead" | "tfoot" => return Ok(Mode::TableBody),
                "caption" => return Ok(Mode::Caption),
                "colgroup" => return Ok(Mode::ColumnGroup),
                "table" => return Ok(Mode::Table),
                "body" => return Ok(Mode::Body),
                "template" | "head" | "frameset" | "html" => return Err(Stop::Unsupported),
                _ => {}
            }
        }
        Ok(Mode::Body)
    }
}

impl Text {
    /// What the tree builder sees of `bytes`; `references`: whether `&` starts a
    /// character reference there (not in CDATA).
    fn of(bytes: &[u8], references: bool) -> Text {
        let mut text = Text {
            any: false,
            non_space: false,
            reference: false,
            nul: false,
            only_space: true,
        };
        for (at, &b) in bytes.iter().enumerate() {
            match b {
                0 => text.nul = true,
                b'&' if references && may_decode_to_space(&bytes[at + 1..]) => {
                    text.any = true;
                    text.reference = true;
                    text.only_space = false;
                }
                b if is_space(b) => text.any = true,
                _ => {
                    text.any = true;
                    text.non_space = true;
                    text.only_space = false;
                }
            }
        }
        text
    }
}

/// Whether a character reference (what follows its `&`) could stand for whitespace:
/// `&#32;`, `&#x9;`, `&Tab;`, `&NewLine;` and the like. Any other `&` is a character
/// that is not whitespace, whatever it decodes to.
fn may_decode_to_space(after: &[u8]) -> bool {
    let [b'#', number @ ..] = after else {
        return after.starts_with(b"Tab") || after.starts_with(b"NewLine");
    };
    let (digits, radix) = match number {
        [b'x' | b'X', hex @ ..] => (hex, 16),
        decimal => (decimal, 10),
    };
    let is_digit = |b: &u8| {
        if radix == 16 {
            b.is_ascii_hexdigit()
        } else {
            b.is_ascii_digit()
        }
    };
    let length = digits.iter().take_while(|b| is_digit(b)).count();
    let zeros = digits
        .iter()
        .take_while(|&&b| b == b'0')
        .count()
        .min(length);
    let significant = &digits[zeros..length];
    // Whitespace is U+0009 to U+0020: two digits at most, in either base.
    significant.len() <= 2
        && std::str::from_utf8(significant)
            .ok()
            .and_then(|d| u32::from_str_radix(d, radix).ok())
            .is_some_and(|value| matches!(value, 9 | 10 | 12 | 13 | 32))
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// html5ever's tokenizer, reduced to what the tree builder acts on.
struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn rest(&self) -> &[u8] {
        &self.src[self.pos..]
    }

    /// Skips to just past the first `needle` at or after the current position, or to the
    /// end.
    fn skip_past(&mut self, needle: &[u8]) {
        match find(self.rest(), needle) {
            Some(at) => self.pos += at + needle.len(),
            None => self.pos = self.src.len(),
        }
    }

    fn next(&mut self, model: &mut Model) -> Result<Token, Stop> {
        if let Some((raw, name)) = model.raw.take() {
            return self.raw_text(raw, &name, model);
        }
        loop {
            if self.pos >= self.src.len() {
                return Ok(Token::Eof);
            }
            // Text up to the next `<` that starts markup.
            let text_start = self.pos;
            let mut at = self.pos;
            let markup = loop {
                let Some(offset) = self.src[at..].iter().position(|&b| b == b'<') else {
                    break None;
                };
                at += offset;
                match self.src.get(at + 1) {
                    Some(b) if b.is_ascii_alphabetic() || matches!(b, b'!' | b'?') => {
                        break Some(at);
                    }
                    Some(b'/') => match self.src.get(at + 2) {
                        // `</` at the very end is text.
                        None => at += 2,
                        Some(_) => break Some(at),
                    },
                    _ => at += 1,
                }
            };
            let text_end = markup.unwrap_or(self.src.len());
            if text_end > text_start {
                self.pos = text_end;
                return Ok(Token::Text(self.text(text_start, text_end, model)));
            }
            // At markup.
            let lt = self.pos;
            match self.src[lt + 1] {
                b'!' => {
                    self.pos = lt + 2;
                    if let Some(cdata) = self.markup_declaration(model) {
                        return Ok(Token::Text(cdata));
                    }
                }
                b'?' => {
                    self.pos = lt + 2;
                    self.skip_past(b">");
                }
                b'/' => {
                    let first = self.src[lt + 2];
                    if first == b'>' {
                        self.pos = lt + 3;
                    } else if first.is_ascii_alphabetic() {
                        self.pos = lt + 2;
                        if let Some(tag) = self.tag(true) {
                            return Ok(Token::Tag(tag));
                        }
                    } else {
                        self.pos = lt + 2;
                        self.skip_past(b">");
                    }
                }
                _ => {
                    self.pos = lt + 1;
                    if let Some(tag) = self.tag(false) {
                        return Ok(Token::Tag(tag));
                    }
                }
            }
            // A comment, doctype or `</>` was a token too (or a parse error, which
            // html5ever passes through the same door): the newline flag is gone.
            model.ignore_lf = false;
        }
    }

    /// The text between `start` and `end`, without the newline html5ever drops right
    /// after `<pre>`, `<listing>` and `<textarea>`.
    fn text(&self, start: usize, end: usize, model: &Model) -> Text {
        let bytes = &self.src[start..end];
        let bytes = match bytes {
            [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..] | [b'\r', rest @ ..]
                if model.ignore_lf =>
            {
                rest
            }
            _ => bytes,
        };
        Text::of(bytes, true)
    }

    /// After `<!`: a comment, a doctype, a CDATA section (in foreign content, whose text
    /// is returned) or a bogus comment.
    fn markup_declaration(&mut self, model: &Model) -> Option<Text> {
        let rest = self.rest();
        if rest.starts_with(b"--") {
            self.pos += 2;
            // `<!-->` and `<!--->` are empty comments; otherwise the first `-->` or
            // `--!>` ends it, whichever completes first.
            let body = self.rest();
            let end = if body.starts_with(b">") {
                1
            } else if body.starts_with(b"->") {
                2
            } else {
                comment_end(body)
            };
            self.pos += end;
        } else if rest.starts_with(b"[CDATA[")
            && model.stack.len() > 1
            && model.current().ns != Ns::Html
        {
            self.pos += 7;
            let start = self.pos;
            let end = find(self.rest(), b"]]>").map_or(self.src.len(), |n| start + n);
            self.pos = (end + 3).min(self.src.len());
            // CDATA has no character references: an `&` in it is just a character.
            return Some(Text::of(&self.src[start..end], false)).filter(|t| t.any || t.nul);
        } else {
            // A doctype ends at the first `>` even inside its quotes.
            self.skip_past(b">");
        }
        None
    }

    /// A start or end tag from its name on; `None` if the input ends inside it (html5ever
    /// then drops it).
    fn tag(&mut self, end: bool) -> Option<Tag> {
        let src = self.src;
        let name_end = src[self.pos..]
            .iter()
            .position(|&b| is_space(b) || b == b'/' || b == b'>')
            .map_or(src.len(), |n| self.pos + n);
        let name = lowercase(&src[self.pos..name_end]);
        self.pos = name_end;
        let mut attrs: Vec<(String, String)> = Vec::new();
        let mut certain = !name.contains('\u{fffd}');
        let mut self_closing = false;
        loop {
            // Before attribute name.
            while self.pos < src.len() && is_space(src[self.pos]) {
                self.pos += 1;
            }
            let b = *src.get(self.pos)?;
            match b {
                b'>' => {
                    self.pos += 1;
                    break;
                }
                b'/' => {
                    self.pos += 1;
                    if *src.get(self.pos)? == b'>' {
                        self.pos += 1;
                        self_closing = true;
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            // Attribute name: a leading `=` is part of it.
            let start = self.pos;
            self.pos += 1;
            while self.pos < src.len()
                && !matches!(src[self.pos], b'/' | b'>' | b'=')
                && !is_space(src[self.pos])
            {
                self.pos += 1;
            }
            let attr_name = lowercase(&src[start..self.pos]);
            // After attribute name.
            while self.pos < src.len() && is_space(src[self.pos]) {
                self.pos += 1;
            }
            let mut value = String::new();
            if src.get(self.pos) == Some(&b'=') {
                self.pos += 1;
                while self.pos < src.len() && is_space(src[self.pos]) {
                    self.pos += 1;
                }
                let raw: &[u8] = match *src.get(self.pos)? {
                    quote @ (b'"' | b'\'') => {
                        let from = self.pos + 1;
                        let len = src[from..].iter().position(|&b| b == quote)?;
                        self.pos = from + len + 1;
                        &src[from..from + len]
                    }
                    b'>' => &[],
                    _ => {
                        let from = self.pos;
                        while self.pos < src.len()
                            && !is_space(src[self.pos])
                            && src[self.pos] != b'>'
                        {
                            self.pos += 1;
                        }
                        &src[from..self.pos]
                    }
                };
                if raw.iter().any(|b| matches!(b, b'&' | 0 | b'\r')) {
                    certain = false;
                }
                value = String::from_utf8_lossy(raw).into_owned();
            }
            if attr_name.contains('\u{fffd}') || attr_name.contains('\r') {
                certain = false;
            }
            if !attrs.iter().any(|(n, _)| *n == attr_name) {
                attrs.push((attr_name, value));
            }
        }
        let attr_names = attrs.iter().map(|(n, _)| n.clone()).collect();
        attrs.sort();
        Some(Tag {
            name,
            end,
            self_closing,
            attrs: certain.then_some(attrs),
            attr_names,
        })
    }

    /// Skips raw text up to the element's end tag, which pops it ("text" insertion mode),
    /// and returns the token after.
    fn raw_text(&mut self, raw: Raw, name: &str, model: &mut Model) -> Result<Token, Stop> {
        // The raw text (or its end tag) is the token that takes "ignore a newline".
        model.ignore_lf = false;
        let end = if raw == Raw::Script {
            script_end(self.src, self.pos)
        } else {
            raw_text_end(self.src, self.pos, name)
        };
        let Some(end) = end else {
            // Unclosed: the rest is its text.
            self.pos = self.src.len();
            return Ok(Token::Eof);
        };
        self.pos = end + 2;
        // The end tag's attributes are read like any tag's, quotes included.
        if self.tag(true).is_none() {
            return Ok(Token::Eof);
        }
        model.pop()?;
        self.next(model)
    }
}

/// Where a comment ends (just past its `-->` or `--!>`), in the text after its `<!--`.
fn comment_end(body: &[u8]) -> usize {
    let mut at = 0;
    while let Some(offset) = find(&body[at..], b"--") {
        at += offset + 2;
        match &body[at..] {
            [b'>', ..] => return at + 1,
            [b'!', b'>', ..] => return at + 2,
            // `--->`: the next pair of dashes starts one later.
            _ => at -= 1,
        }
    }
    body.len()
}

/// Where the end tag of a raw text element named `name` starts (its `<`), from `from`.
fn raw_text_end(src: &[u8], from: usize, name: &str) -> Option<usize> {
    let mut at = from;
    loop {
        at += find(&src[at..], b"</")?;
        if is_end_tag_of(src, at, name) {
            return Some(at);
        }
        at += 2;
    }
}

/// Whether `</name` followed by whitespace, `/` or `>` starts at `at` (any case).
fn is_end_tag_of(src: &[u8], at: usize, name: &str) -> bool {
    let after = at + 2 + name.len();
    src.get(at..at + 2) == Some(b"</")
        && src
            .get(at + 2..after)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        && src
            .get(after)
            .is_some_and(|&b| is_space(b) || b == b'/' || b == b'>')
}

/// Where a script's end tag starts, following html5ever's script data states: inside
/// `<!--`, a `<script>` "double-escapes" the text so that the next `</script>` does not
/// end the element.
fn script_end(src: &[u8], from: usize) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Escaped,
        Double,
    }
    #[derive(Clone, Copy)]
    enum State {
        Data,
        Lt,
        EscapeStart,
        EscapeStartDash,
        Text(Kind),
        Dash(Kind),
        DashDash(Kind),
        EscapedLt,
        DoubleStart,
        DoubleLt,
        DoubleEnd,
    }
    let mut state = State::Data;
    let mut word = Vec::new();
    let mut at = from;
    while at < src.len() {
        let b = src[at];
        // Each arm either consumes `b` (at += 1) or reconsumes it in another state.
        match state {
            State::Data => {
                match src[at..].iter().position(|&b| b == b'<') {
                    Some(offset) => at += offset + 1,
                    None => return None,
                }
                state = State::Lt;
                continue;
            }
            State::Lt => match b {
                b'/' if is_end_tag_of(src, at - 1, "script") => return Some(at - 1),
                b'/' => {
                    at = skip_letters(src, at + 1);
                    state = State::Data;
                    continue;
                }
                b'!' => state = State::EscapeStart,
                _ => {
                    state = State::Data;
                    continue;
                }
            },
            State::EscapeStart => match b {
                b'-' => state = State::EscapeStartDash,
                _ => {
                    state = State::Data;
                    continue;
                }
            },
            State::EscapeStartDash => match b {
                b'-' => state = State::DashDash(Kind::Escaped),
                _ => {
                    state = State::Data;
                    continue;
                }
            },
            State::Text(kind) => match b {
                b'-' => state = State::Dash(kind),
                b'<' if kind == Kind::Escaped => state = State::EscapedLt,
                b'<' => state = State::DoubleLt,
                _ => {}
            },
            State::Dash(kind) => match b {
                b'-' => state = State::DashDash(kind),
                b'<' if kind == Kind::Escaped => state = State::EscapedLt,
                b'<' => state = State::DoubleLt,
                _ => state = State::Text(kind),
            },
            State::DashDash(kind) => match b {
                b'-' => {}
                b'<' if kind == Kind::Escaped => state = State::EscapedLt,
                b'<' => state = State::DoubleLt,
                b'>' => state = State::Data,
                _ => state = State::Text(kind),
            },
            State::EscapedLt => match b {
                b'/' if is_end_tag_of(src, at - 1, "script") => return Some(at - 1),
                b'/' => {
                    at = skip_letters(src, at + 1);
                    state = State::Text(Kind::Escaped);
                    continue;
                }
                b if b.is_ascii_alphabetic() => {
                    word.clear();
                    state = State::DoubleStart;
                    continue;
                }
                _ => {
                    state = State::Text(Kind::Escaped);
                    continue;
                }
            },
            State::DoubleStart | State::DoubleEnd => {
                if b.is_ascii_alphabetic() {
                    word.push(b.to_ascii_lowercase());
                } else if is_space(b) || b == b'/' || b == b'>' {
                    let script = word == b"script";
                    let starts = matches!(state, State::DoubleStart);
                    state = State::Text(if script == starts {
                        Kind::Double
                    } else {
                        Kind::Escaped
                    });
                } else {
                    state = State::Text(if matches!(state, State::DoubleStart) {
                        Kind::Escaped
                    } else {
                        Kind::Double
                    });
                    continue;
                }
            }
            State::DoubleLt => match b {
                b'/' => {
                    word.clear();
                    state = State::DoubleEnd;
                }
                _ => {
                    state = State::Text(Kind::Double);
                    continue;
                }
            },
        }
        at += 1;
    }
    None
}

fn skip_letters(src: &[u8], mut at: usize) -> usize {
    while src.get(at).is_some_and(u8::is_ascii_alphabetic) {
        at += 1;
    }
    at
}

fn lowercase(bytes: &[u8]) -> String {
    let mut name = String::from_utf8_lossy(bytes).into_owned();
    name.make_ascii_lowercase();
    if name.contains('\0') {
        name = name.replace('\0', "\u{fffd}");
    }
    name
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
