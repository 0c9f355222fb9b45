extension StripeClient {
    /// Where and how a `StripeClient` talks to Stripe. Its description never shows the secret key.
    public struct Configuration: Sendable, CustomStringConvertible {
        /// The API version every request pins with `Stripe-Version`, so a change of the account's default
        /// version in the dashboard cannot change what we receive. The version stripe-python 16.1.0 (the
        /// SDK pinned for the peer tests) is built for.
        public static let pinnedAPIVersion = "2026-10-28.endive"

        /// `https://api.stripe.com`, or a local peer such as localstripe (`http://127.0.0.1:8420`).
        public var baseURL: String
        /// `sk_test_…` or `sk_live_…`; sent only as the Bearer token.
        public var secretKey: String
        /// For the whole exchange: sending, Stripe's processing, and reading the response.
        public var requestTimeout: Duration
        public var apiVersion: String
        /// Sends `automatic_payment_methods[enabled]=true` when creating an intent, so the payment methods
        /// enabled in the dashboard are offered by Stripe Elements. localstripe refuses the parameter, so its
        /// tests turn this off.
        public var automaticPaymentMethods: Bool

        public init(
            secretKey: String,
            baseURL: String = "https://api.stripe.com",
            requestTimeout: Duration = .seconds(30),
            apiVersion: String = Configuration.pinnedAPIVersion,
            automaticPaymentMethods: Bool = true
        ) {
            self.secretKey = secretKey
            self.baseURL = baseURL
            self.requestTimeout = requestTimeout
            self.apiVersion = apiVersion
            self.automaticPaymentMethods = automaticPaymentMethods
        }

        public var description: String {
            "StripeClient.Configuration(baseURL: \(baseURL), secretKey: \(Self.redacted(secretKey)), requestTimeout: \(requestTimeout), apiVersion: \(apiVersion))"
        }

        /// `sk_test_…` stays recognisable as test or live without revealing anything that authenticates.
        static func redacted(_ key: String) -> String {
            let prefix = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"].first { key.hasPrefix($0) } ?? ""
            return "\(prefix)[redacted]"
        }
    }
}
