extension LedgerAccountCode {
    /// Vouchers sold and not yet redeemed, per currency: a redemption moves value from here to the line.
    public static func voucherLiability(unit: String) -> String { "liability:vouchers:\(unit)" }
}
