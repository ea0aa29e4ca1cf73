//! The HTML templates under `templates/`, embedded at build time and rendered by minijinja
//! with HTML auto-escaping on for every one of them, whatever its name.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, Value};

/// Every template, by the name pages render it with.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "signin/frame.html",
        include_str!("../../templates/signin/frame.html"),
    ),
    (
        "signin/done.html",
        include_str!("../../templates/signin/done.html"),
    ),
    (
        "signin/problem.html",
        include_str!("../../templates/signin/problem.html"),
    ),
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // A variable a page forgot is a bug to see in the tests, not an empty string.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        // The templates are ours and parsed by the test below; one that does not parse is
        // left out and its page answers 500 rather than taking the process down.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a template does not parse");
        }
    }
    env
});

/// Renders the template `name` with `context` (`minijinja::context! { … }`).
pub fn render(name: &str, context: Value) -> Result<String, minijinja::Error> {
    ENVIRONMENT.get_template(name)?.render(context)
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn what_a_page_is_given_is_escaped() {
        let page = render(
            "signin/problem.html",
            context! { title => "<b>t</b>", message => "<script>alert(1)</script>\"'" },
        )
        .unwrap();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<b>t"), "{page}");
    }
}
