import Foundation

extension Migration {
    /// Migration 16: what a provider gave the payer to act on, kept with the order: a wallet's QR content (Alipay's
    /// `qr_code`, WeChat Pay's `code_url`). The order page shows it again on every refresh without asking the
    /// provider again (one precreate per order, however often the page reloads), and a replayed create answers with it.
    static let checkoutPayload = Migration(version: 16, name: "checkout_payload") { _ in
        ["ALTER TABLE orders ADD COLUMN checkout_payload TEXT"]
    }
}
