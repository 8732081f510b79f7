//! Limited Markdown for descriptions: emphasis, lists, headings, links (http, https, mailto only),
//! code and quotes. Raw HTML is shown as text and images are dropped, so nothing a dealer writes can
//! run in a customer's browser.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

fn safe_url(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    u.starts_with("https://") || u.starts_with("http://") || u.starts_with("mailto:")
}

pub fn render(source: &str) -> String {
    let parser = Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH);
    let mut skip_image = 0usize;
    let events = parser.filter_map(|ev| match ev {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Image { .. }) => {
            skip_image += 1;
            None
        }
        Event::End(TagEnd::Image) => {
            skip_image = skip_image.saturating_sub(1);
            None
        }
        _ if skip_image > 0 => None,
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let dest_url = if safe_url(&dest_url) { dest_url } else { CowStr::Borrowed("#") };
            Some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(source.len() * 2);
    html::push_html(&mut out, events);
    out
}

/// The text of a description without its Markdown (for the search index and snippets).
pub fn plain(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for ev in Parser::new(source) {
        match ev {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => out.push_str(&t),
            // block ends and line breaks separate words; inline ends (emphasis, links) do not
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(t) if !matches!(t, TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn plain_text() {
        assert_eq!(super::plain("A **bold** [link](https://x.y)\n\n- one\n- two"), "A bold link one two");
        assert_eq!(super::plain("half**bold**word"), "halfboldword");
    }

    #[test]
    fn raw_html_and_scripts_are_text() {
        let out = render("Hello <script>alert(1)</script> **bold**");
        assert!(out.contains("&lt;script&gt;"), "{out}");
        assert!(!out.contains("<script>"));
        assert!(out.contains("<strong>bold</strong>"));
    }

    #[test]
    fn unsafe_links_and_images_are_neutralised() {
        let out = render("[x](javascript:alert(1)) [y](https://example.com) ![img](https://e.com/a.png)");
        assert!(out.contains("href=\"#\""), "{out}");
        assert!(out.contains("href=\"https://example.com\""));
        assert!(!out.contains("<img"));
    }
}
