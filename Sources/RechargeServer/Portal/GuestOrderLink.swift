import Crypto
import Foundation
import RechargeCore

/// The link a guest reaches their order and receipt by, without an account: `<order id>.<expiry>.<signature>`, the
/// signature an HMAC-SHA256 over the order id and the expiry with the database's own key (`server_secrets`, made
/// once per database: ``RechargeStore/Database/serverSecret(_:)``), so every node accepts the links of every other
/// and no one can make a link to an order they did not pay. It expires (``lifetime`` after it was made): a receipt
/// link forwarded or left in a browser's history stops working. What it shows is only what the payer typed and paid
/// (the order page and the receipt without the balance or the subscriber's name).
struct GuestOrderLink: Sendable {
    /// How long a link works after the order is placed.
    static let lifetime: TimeInterval = 7 * 86_400
    /// The `server_secrets` row holding the key.
    static let secretName = "guest_order_link_key"

    private let key: [UInt8]

    init(key: [UInt8]) {
        self.key = key
    }

    /// The token for `orderID`, valid until `expires` (whole seconds).
    func token(orderID: String, expires: Date) -> String {
        let seconds = Int64(expires.timeIntervalSince1970.rounded(.down))
        return "\(orderID).\(seconds).\(signature(orderID: orderID, seconds: seconds))"
    }

    /// Why a token is refused; a page answers each with the same "not found".
    enum Refusal: Error, Equatable {
        case malformed
        case badSignature
        case expired
    }

    /// The order id a token names, when its signature holds and it has not expired at `now`.
    func orderID(from token: String, now: Date) throws(Refusal) -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, RechargeOrder.isWellFormedID(String(parts[0])), parts[1].utf8.count <= 12,
              let seconds = Int64(parts[1]), seconds > 0 else { throw .malformed }
        let expected = signature(orderID: String(parts[0]), seconds: seconds)
        guard ConstantTime.equal(Array(parts[2].utf8), Array(expected.utf8)) else { throw .badSignature }
        guard Double(seconds) > now.timeIntervalSince1970 else { throw .expired }
        return String(parts[0])
    }

    private func signature(orderID: String, seconds: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("guest-order-link|v1|\(orderID)|\(seconds)".utf8), using: SymmetricKey(data: key))
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
