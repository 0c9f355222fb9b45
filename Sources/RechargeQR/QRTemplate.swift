import Foundation

/// Everything about a symbol that depends on its version only, computed once per version and shared: the function
/// patterns (finders with separators, timing, alignment patterns), the order in which codeword bits fill the
/// remaining modules (7.7.3), and the eight data masks restricted to those modules (7.8.2).
///
/// A symbol is kept as bit lines: row y is `stride` UInt64 words whose bit x is module (x, y), dark = 1; the same
/// modules are also kept column by column (column x, bit y), because the penalty rules read both directions and a
/// transposed copy turns every column rule into a row rule. `stride` is 1 while a line and 4 light modules past its
/// end fit one word (size ≤ 60, versions 1–10), otherwise 3 (size ≤ 177 + 11 ≤ 192 bits).
///
/// `base` rows/columns hold the function patterns with the format areas, the version areas and the dark module
/// still light: the masks are evaluated on that matrix (ISO/IEC 18004:2015 7.8.3 evaluates the symbol before the
/// format and version information are added), and ``QRCode`` draws them after choosing the mask.
final class QRTemplate: Sendable {
    let version: Int
    let size: Int
    let stride: Int
    let baseRows: [UInt64]
    let baseColumns: [UInt64]
    /// The data modules in placement order, `y << 8 | x`; `rawDataModules` entries (codeword bits then remainder bits).
    let dataPositions: [UInt16]
    /// Mask m's rows are `maskRows[m * size * stride ..< (m + 1) * size * stride]`: 1 where mask m flips a data module.
    let maskRows: [UInt64]
    let maskColumns: [UInt64]

    static func stride(size: Int) -> Int { size + 4 <= 64 ? 1 : 3 }

    /// The template of a version (1 ... 40), built on first use.
    static func of(version: Int) -> QRTemplate { cache.template(version: version) }

    private static let cache = Cache()

    private final class Cache: @unchecked Sendable {
        // Guarded by `lock`; a template, once stored, is immutable and shared.
        private let lock = NSLock()
        private var templates = [QRTemplate?](repeating: nil, count: 41)

        func template(version: Int) -> QRTemplate {
            lock.lock()
            if let template = templates[version] { lock.unlock(); return template }
            lock.unlock()
            let built = QRTemplate(version: version)
            lock.lock()
            defer { lock.unlock() }
            if let template = templates[version] { return template }
            templates[version] = built
            return built
        }
    }

    /// Whether mask pattern `mask` flips module (x, y) (Table 10: i is the row, j the column).
    static func maskBit(_ mask: Int, x j: Int, y i: Int) -> Bool {
        switch mask {
        case 0: return (i + j) % 2 == 0
        case 1: return i % 2 == 0
        case 2: return j % 3 == 0
        case 3: return (i + j) % 3 == 0
        case 4: return (i / 2 + j / 3) % 2 == 0
        case 5: return (i * j) % 2 + (i * j) % 3 == 0
        case 6: return ((i * j) % 2 + (i * j) % 3) % 2 == 0
        case 7: return ((i + j) % 2 + (i * j) % 3) % 2 == 0
        default: preconditionFailure("mask \(mask) is not 0 ... 7")
        }
    }

    private init(version: Int) {
        let size = 17 + 4 * version
        let stride = Self.stride(size: size)
        self.version = version
        self.size = size
        self.stride = stride

        var dark = [Bool](repeating: false, count: size * size)
        var function = [Bool](repeating: false, count: size * size)
        func set(_ x: Int, _ y: Int, _ isDark: Bool) {
            dark[y * size + x] = isDark
            function[y * size + x] = true
        }
        // Timing patterns (6.3.5), drawn first: finders and alignment patterns overwrite their ends.
        for index in 0..<size {
            set(6, index, index % 2 == 0)
            set(index, 6, index % 2 == 0)
        }
        // Finder patterns with their light separators (6.3.3, 6.3.4).
        for (cx, cy) in [(3, 3), (size - 4, 3), (3, size - 4)] {
            for dy in -4...4 {
                for dx in -4...4 {
                    let x = cx + dx, y = cy + dy
                    guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                    let distance = max(abs(dx), abs(dy))
                    set(x, y, distance != 2 && distance != 4)
                }
            }
        }
        // Alignment patterns (6.3.6), all but the three that would overlap a finder.
        let positions = QRTables.alignmentPositions(version: version)
        let last = positions.count - 1
        for (row, cy) in positions.enumerated() {
            for (column, cx) in positions.enumerated() {
                if (row == 0 && column == 0) || (row == 0 && column == last) || (row == last && column == 0) { continue }
                for dy in -2...2 {
                    for dx in -2...2 { set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1) }
                }
            }
        }
        // Format areas, reserved light (7.9): beside the top-left finder (skipping the timing patterns), under the
        // top-right finder, right of the bottom-left one (including the dark module's place).
        for index in 0...8 where index != 6 {
            set(8, index, false)
            set(index, 8, false)
        }
        for index in 0..<8 {
            set(size - 1 - index, 8, false)
            set(8, size - 1 - index, false)
        }
        // Version areas (7.10), versions 7 and up.
        if version >= 7 {
            for index in 0..<18 {
                let a = size - 11 + index % 3, b = index / 3
                set(a, b, false)
                set(b, a, false)
            }
        }

        // Codeword placement (7.7.3): two-module columns from the right, alternately upwards and downwards,
        // skipping the vertical timing pattern's column.
        var order = [UInt16]()
        order.reserveCapacity(QRTables.rawDataModules(version: version))
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = (right + 1) & 2 == 0
            for vertical in 0..<size {
                let y = upward ? size - 1 - vertical : vertical
                for x in [right, right - 1] where !function[y * size + x] {
                    order.append(UInt16(y << 8 | x))
                }
            }
            right -= 2
        }
        precondition(order.count == QRTables.rawDataModules(version: version), "version \(version): data module count")
        dataPositions = order

        let lineWords = size * stride
        var rows = [UInt64](repeating: 0, count: lineWords)
        var columns = [UInt64](repeating: 0, count: lineWords)
        for y in 0..<size {
            for x in 0..<size where dark[y * size + x] {
                rows[y * stride + x >> 6] |= 1 << UInt64(x & 63)
                columns[x * stride + y >> 6] |= 1 << UInt64(y & 63)
            }
        }
        baseRows = rows
        baseColumns = columns

        var maskRows = [UInt64](repeating: 0, count: 8 * lineWords)
        var maskColumns = [UInt64](repeating: 0, count: 8 * lineWords)
        for mask in 0..<8 {
            for position in order {
                let y = Int(position >> 8), x = Int(position & 0xFF)
                guard Self.maskBit(mask, x: x, y: y) else { continue }
                maskRows[mask * lineWords + y * stride + x >> 6] |= 1 << UInt64(x & 63)
                maskColumns[mask * lineWords + x * stride + y >> 6] |= 1 << UInt64(y & 63)
            }
        }
        self.maskRows = maskRows
        self.maskColumns = maskColumns
    }
}
