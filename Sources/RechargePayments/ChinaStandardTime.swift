import Foundation

/// Times as the Chinese wallets write them: China Standard Time (UTC+8, no daylight saving), to the second.
enum ChinaStandardTime {
    /// `2026-12-03 22:30:00`: Alipay's `time_expire`, `notify_time`, `gmt_payment`.
    static func dateTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3600)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(c.year ?? 1970)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)):\(two(c.second))"
    }

    /// `2026-12-03T22:30:00+08:00`: WeChat Pay's `time_expire` (RFC 3339). Foundation's ISO 8601 style writes the
    /// offset as `+0800`, which RFC 3339 and WeChat Pay do not accept.
    static func rfc3339(_ date: Date) -> String {
        dateTime(date).replacingOccurrences(of: " ", with: "T") + "+08:00"
    }
}
