import Foundation

/// Date-times in a catalog: an RFC 3339 instant (`2027-02-10T00:00:00+08:00`, `…Z`), or a local date-time without an
/// offset (`2027-02-10T00:00`, seconds optional) read in the catalog's `timeZone` (an IANA name such as
/// `Asia/Shanghai`; UTC when the catalog names none). Operators schedule holidays in their own clock.
///
/// The conversion is exact and follows daylight saving time through Foundation's `TimeZone`: a local time the clocks
/// skip (02:30 on the spring-forward night in New York) does not exist and is refused, so a promotion never starts
/// at a moment nobody meant; a local time the clocks pass twice (01:30 on the fall-back night) is its first
/// occurrence, the earlier instant.
public enum CatalogTime {
    /// Why a local date-time has no instant.
    public enum Failure: Error, Equatable, Sendable {
        case malformed
        /// The clocks skip this local time (a daylight saving gap).
        case skipped
    }

    /// Reads an IANA time-zone name.
    public static func timeZone(_ name: String?) throws(RechargeError) -> TimeZone {
        guard let name else { return utc }
        guard name.utf8.count <= 64, let zone = TimeZone(identifier: name) else {
            throw .invalidCatalog("timeZone '\(name)' is not an IANA time-zone name (such as Asia/Shanghai or America/New_York)")
        }
        return zone
    }

    /// The default zone, however Foundation spells it (`UTC`, `GMT`).
    public static func isUTC(_ zone: TimeZone) -> Bool {
        ["UTC", "GMT", "Etc/UTC", "Etc/GMT"].contains(zone.identifier) && zone.secondsFromGMT(for: Date(timeIntervalSince1970: 0)) == 0
    }

    // swiftlint:disable:next force_unwrapping
    public static let utc = TimeZone(identifier: "UTC")!

    /// The instant a catalog date-time names: an RFC 3339 instant as written, a local date-time in `zone`.
    public static func instant(_ text: String, in zone: TimeZone) -> Result<Date, Failure> {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return .success(date) }
        guard let local = LocalDateTime(text) else { return .failure(.malformed) }
        return local.instant(in: zone)
    }

    /// A local date-time written out in `zone`: `yyyy-MM-ddTHH:mm:ss`, what ``instant(_:in:)`` reads back.
    public static func localText(_ date: Date, in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { let text = String(value ?? 0); return text.count < 2 ? "0" + text : text }
        return "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day))T\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))"
    }
}

/// A wall-clock date and time without a zone, as an operator writes a holiday's start.
struct LocalDateTime: Equatable {
    let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    /// `yyyy-MM-ddTHH:mm` or `yyyy-MM-ddTHH:mm:ss` (a space instead of the `T` is accepted), digits only.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 16 || bytes.count == 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"),
              bytes.count == 16 || bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = bytes.count == 19 ? number(17..<19) : 0
        else { return nil }
        guard (1...12).contains(month), (1...Self.days(in: month, of: year)).contains(day), (0...23).contains(hour), (0...59).contains(minute),
              (0...59).contains(second), year >= 1970
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    static func days(in month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Seconds from the epoch if this wall-clock time were UTC (days from civil, exact integer arithmetic).
    var secondsAsUTC: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
    }

    /// The instant this wall-clock time is in `zone`. Every offset the zone has near that time (a day either side
    /// covers any transition) is tried: an instant `u` is a reading of this time when the zone's offset at `u` is the
    /// offset tried. None: the time was skipped; two: it was passed twice, and the first is taken.
    func instant(in zone: TimeZone) -> Result<Date, CatalogTime.Failure> {
        let wall = secondsAsUTC
        let probes = [wall - 86_400, wall, wall + 86_400].map { Date(timeIntervalSince1970: TimeInterval($0)) }
        let offsets = Set(probes.map { Int64(zone.secondsFromGMT(for: $0)) })
        let readings = offsets.map { wall - $0 }.filter { instant in
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))) == wall - instant
        }
        guard let first = readings.min() else { return .failure(.skipped) }
        return .success(Date(timeIntervalSince1970: TimeInterval(first)))
    }
}
