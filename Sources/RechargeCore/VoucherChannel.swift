/// Where a voucher redemption comes from: failures on one channel feed its breaker. An API key is issued for one
/// channel (`api` unless said otherwise) and its callers redeem on that channel only, so one key cannot spread its
/// guesses over several breakers. `portal` is the server's own web portal: no key is issued for it.
public enum VoucherChannel: String, Sendable, Codable, CaseIterable {
    case api, portal, ivr, ussd, retail
    case customerService = "customer_service"

    /// The channels an API key may be issued for.
    public static var forKeys: [VoucherChannel] { allCases.filter { $0 != .portal } }
}
