//! Why something failed: one vocabulary for feeds, status pages, synthetic checks and the
//! stages around them (metrics labels, stored results, reports).

vocabulary! {
    /// The class of a failure.
    pub enum ErrorKind {
        /// Name resolution failed.
        Dns,
        /// TCP connection refused, reset or unreachable.
        Connect,
        /// TLS handshake or certificate.
        Tls,
        /// No complete answer within the timeout.
        Timeout,
        /// A status code that is not the expected one (for a check: the status assertion failed).
        Http,
        /// The body exceeded its size cap.
        TooLarge,
        /// More redirects than allowed, or a redirect the policy refuses.
        Redirect,
        /// The body could not be read (reset mid-body, bad gzip ...).
        Body,
        /// The request could not be built or sent at all.
        Request,
        /// An empty body.
        Empty,
        /// Truncated or invalid JSON/XML.
        Malformed,
        /// An HTML page where a feed was expected.
        HtmlNotFeed,
        /// HTML (or XML) where JSON was expected.
        HtmlNotJson,
        /// JSON where HTML was expected.
        JsonNotHtml,
        /// A page that is not UTF-8 text.
        NotText,
        /// Valid JSON of another shape than a status page.
        NotStatus,
        /// Selectors matched nothing, or status text not recognised.
        Unrecognised,
        /// A status page adapter read nothing: no indicator, component, incident or description
        /// in a body of the right format (`{}`, `{"error": ...}`, an empty list).
        NoStatus,
        /// A source left unread because the settings it needs are not given (a status page whose
        /// credentials' environment variables are all unset, `[status_page] optional = true`).
        NotConfigured,
        /// A check assertion other than the status failed.
        Assertion,
        /// Credentials rejected (401/403) or not obtainable (token endpoint).
        Auth,
        /// The configuration cannot be applied.
        Config,
        /// Our database failed.
        Store,
        /// A template failed to render.
        Template,
    }
}
