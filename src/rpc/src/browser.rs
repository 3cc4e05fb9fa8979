//! The block browser's static files, compiled into the node (`src/rpc/browser/`): plain
//! HTML, CSS and JavaScript with no build step. The page reads the node through its own
//! JSON-RPC (`/` or `/g/<group>` on the same port) and has no other privilege.
//! docs/browser.md describes its views and the methods each one calls.

const JS: &str = "text/javascript; charset=utf-8";

/// The content type and bytes of the browser file at `path` (relative to `/browser/`; the
/// empty path is the index page).
pub(crate) fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let found: (&'static str, &'static [u8]) = match path {
        "" | "index.html" => (
            "text/html; charset=utf-8",
            include_bytes!("../browser/index.html"),
        ),
        "style.css" => (
            "text/css; charset=utf-8",
            include_bytes!("../browser/style.css"),
        ),
        "app.js" => (JS, include_bytes!("../browser/app.js")),
        "views.js" => (JS, include_bytes!("../browser/views.js")),
        "charts.js" => (JS, include_bytes!("../browser/charts.js")),
        "rpc.js" => (JS, include_bytes!("../browser/rpc.js")),
        _ => return None,
    };
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::asset;

    /// The values of `attr="..."` in `text`.
    fn attr_values<'a>(text: &'a str, attr: &str) -> Vec<&'a str> {
        let key = format!("{attr}=\"");
        text.match_indices(&key)
            .filter_map(|(i, _)| {
                let rest = &text[i + key.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    /// The relative modules a JavaScript file imports (`from "./x.js"`).
    fn imports(js: &str) -> Vec<&str> {
        js.match_indices("from \"./")
            .filter_map(|(i, m)| {
                let rest = &js[i + m.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    #[test]
    fn every_file_the_index_page_loads_is_served() {
        let (ty, index) = asset("").expect("the index page");
        assert!(ty.starts_with("text/html"));
        assert_eq!(asset("index.html").map(|a| a.1), Some(index));
        let index = std::str::from_utf8(index).expect("utf-8");
        let mut refs: Vec<&str> = attr_values(index, "src");
        refs.extend(
            attr_values(index, "href")
                .into_iter()
                .filter(|h| !h.starts_with('#')),
        );
        assert!(
            refs.contains(&"app.js") && refs.contains(&"style.css"),
            "{refs:?}"
        );
        // Each script's own imports too, transitively.
        let mut seen = Vec::new();
        while let Some(r) = refs.pop() {
            if seen.contains(&r) {
                continue;
            }
            seen.push(r);
            assert!(
                !r.contains("//"),
                "the page loads nothing from elsewhere: {r}"
            );
            let (ty, body) = asset(r).unwrap_or_else(|| panic!("index.html loads {r}, not served"));
            if r.ends_with(".js") {
                assert_eq!(ty, super::JS, "{r}");
                refs.extend(imports(std::str::from_utf8(body).expect("utf-8")));
            }
        }
        for js in ["app.js", "views.js", "charts.js", "rpc.js"] {
            assert!(seen.contains(&js), "{js} is served but nothing loads it");
        }
        assert!(asset("nope.js").is_none() && asset("../Cargo.toml").is_none());
    }

    #[test]
    fn every_nav_link_has_a_view() {
        let text = |p: &str| std::str::from_utf8(asset(p).expect(p).1).expect("utf-8");
        let (index, app) = (text(""), text("app.js"));
        let views = attr_values(index, "data-view");
        assert!(
            views.contains(&"nodes") && views.contains(&"pending"),
            "{views:?}"
        );
        for v in views.into_iter().filter(|v| *v != "home") {
            assert!(
                app.contains(&format!("case \"{v}\":")),
                "the nav links {v}, which app.js does not route"
            );
        }
    }
}
