//! Masks the personal numbers citizens say at the window (身份证号, 手机号, bank cards) in a transcript.
//!
//! Whisper writes a number as ASCII or full-width digits, as spoken numerals (一三八…, 幺 for 1, 两 for
//! 2, 零/〇 for 0) or a mix, with spaces, dashes or commas between groups. [`mask_personal`] finds
//! such digit runs, reads them as digit strings and masks those that are personal numbers:
//!
//! - an 18-character 身份证号 whose ISO 7064 MOD 11-2 check digit holds (the last may be X/叉);
//! - a 手机号: 11 digits `1[3-9]…` (optionally after `86`);
//! - a bank card: 16–19 digits that pass the Luhn check.
//!
//! Checks keep ordinary numbers (dates, amounts, window and queue numbers) readable. Two shapes
//! are masked even when the check fails, because a mis-heard digit must not leak the other 17: an
//! ID-shaped run (17–18 characters with a real birth date at characters 7–14) and a UnionPay-shaped
//! run (16–19 digits starting with 62). Other long numbers, such as 受理编号 serials, stay.
//!
//! Every masked character — digits and the separators inside the number — is replaced by one of the
//! same UTF-8 length (`*` for ASCII, `＊` for 3-byte characters), so byte spans computed on the
//! masked text hold for the original and vice versa. All digits are masked: none may be stored.

use std::ops::Range;

/// A transcript with its personal numbers masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The text, byte for byte as long as the input, with each personal number's characters masked.
    pub text: String,
    /// How many personal numbers were masked.
    pub masked: usize,
}

/// Masks every 身份证号, 手机号 and bank card number in `text`; see the [module docs](self).
///
/// ```
/// use courtesy::text::mask_personal;
/// let m = mask_personal("手机号一三八 1234-5678，3号窗口");
/// assert_eq!(m.text, "手机号＊＊＊**********，3号窗口");
/// assert_eq!(m.masked, 1);
/// ```
pub fn mask_personal(text: &str) -> Masked {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if digit_value(chars[k].1).is_none() {
            k += 1;
            continue;
        }
        let (groups, next) = read_run(text, &chars, k);
        ranges.extend(personal_numbers(text, &groups));
        k = next;
    }
    if ranges.is_empty() {
        return Masked {
            text: text.to_string(),
            masked: 0,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut r = ranges.iter().peekable();
    for (i, c) in chars {
        while r.peek().is_some_and(|r| r.end <= i) {
            r.next();
        }
        if r.peek().is_some_and(|r| r.contains(&i)) {
            out.push(mask_char(c));
        } else {
            out.push(c);
        }
    }
    Masked {
        text: out,
        masked: ranges.len(),
    }
}

/// The replacement for `c`: one character of the same UTF-8 length.
fn mask_char(c: char) -> char {
    // Only digits, numerals, X marks and separators are masked; all are 1 or 3 bytes long.
    if c.len_utf8() == 1 {
        '*'
    } else {
        '＊'
    }
}

/// The value of a digit as Whisper may write it.
fn digit_value(c: char) -> Option<u8> {
    Some(match c {
        '0'..='9' => c as u8 - b'0',
        '０'..='９' => (c as u32 - '０' as u32) as u8,
        '零' | '〇' | '○' => 0,
        '一' | '幺' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn is_spoken(c: char) -> bool {
    digit_value(c).is_some() && !c.is_ascii_digit() && !('０'..='９').contains(&c)
}

/// The ID check character X as written or heard (叉).
fn is_x(c: char) -> bool {
    matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ' | '叉')
}

/// What may stand between the groups of one number.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{3000}' | '-' | '－' | '–' | '—' | ',' | '，' | '、'
    )
}

/// Most separator characters between two groups (", " is two).
const MAX_SEPARATORS: usize = 2;

/// A stretch of digits with nothing between them.
struct Group {
    bytes: Range<usize>,
    /// Digit values; 10 stands for a final X.
    digits: Vec<u8>,
    /// What joins this group to the previous one: separators, all commas, or none (a switch between
    /// spoken numerals and written digits, as in 一13812345678).
    joined_by_commas: bool,
}

/// Reads the digit run starting at `chars[start]` (a digit) into groups; returns them and the index
/// of the first character after the run.
fn read_run(text: &str, chars: &[(usize, char)], start: usize) -> (Vec<Group>, usize) {
    let end_of = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    let digit_at = |k: usize| chars.get(k).and_then(|&(_, c)| digit_value(c));
    let mut groups = Vec::new();
    let mut k = start;
    let mut joined_by_commas = false;
    loop {
        let first = k;
        let spoken = is_spoken(chars[k].1);
        let mut digits = Vec::new();
        while let Some(d) = digit_at(k) {
            if is_spoken(chars[k].1) != spoken {
                break;
            }
            digits.push(d);
            k += 1;
        }
        // An X closes the group whatever follows, so masking what follows cannot change how the
        // X is read (masking twice gives the same text).
        if chars.get(k).is_some_and(|&(_, c)| is_x(c)) {
            digits.push(10);
            k += 1;
        }
        groups.push(Group {
            bytes: chars[first].0..end_of(k),
            digits,
            joined_by_commas,
        });
        if digit_at(k).is_some() {
            // Spoken numerals meet written digits: a new group, nothing between.
            joined_by_commas = false;
            continue;
        }
        let mut s = k;
        while s < chars.len() && s - k < MAX_SEPARATORS && is_separator(chars[s].1) {
            s += 1;
        }
        if s > k && digit_at(s).is_some() {
            joined_by_commas = chars[k..s].iter().all(|&(_, c)| matches!(c, ',' | '，'));
            k = s;
            continue;
        }
        return (groups, k);
    }
}

/// Byte ranges of the personal numbers in one run: at each group, the longest stretch of whole
/// groups that reads as a personal number, left to right.
fn personal_numbers(text: &str, groups: &[Group]) -> Vec<Range<usize>> {
    // Digits glued to a Latin letter belong to a code (A023, 统一社会信用代码 …341L, a plate), which
    // no citizen's number is. An ID's final X is part of its group, not a neighbour — neither for
    // its own group nor for the group that follows it in the run: once that ID is masked the X is
    // gone, and masking again must not find a number the first pass let through.
    let glued = |i: usize, bytes: Range<usize>| {
        let after_x_of_previous = i > 0 && groups[i - 1].bytes.end == bytes.start;
        (!after_x_of_previous
            && text[..bytes.start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphabetic()))
            || text[bytes.end..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < groups.len() {
        let mut best = None;
        let mut digits: Vec<u8> = Vec::new();
        for (j, g) in groups.iter().enumerate().skip(i) {
            digits.extend(&g.digits);
            if digits.len() > 19 {
                break;
            }
            if is_personal(&digits)
                && !is_thousands(&groups[i..=j])
                && !glued(i, groups[i].bytes.start..g.bytes.end)
            {
                best = Some(j);
            }
        }
        match best {
            Some(j) => {
                found.push(groups[i].bytes.start..groups[j].bytes.end);
                i = j + 1;
            }
            None => i += 1,
        }
    }
    found
}

/// `1,380,000,000` is an amount, not a phone number.
fn is_thousands(groups: &[Group]) -> bool {
    groups.len() >= 2
        && groups[1..]
            .iter()
            .all(|g| g.joined_by_commas && g.digits.len() == 3)
        && groups[0].digits.len() <= 3
}

fn is_personal(d: &[u8]) -> bool {
    // X may only close an ID.
    if d[..d.len() - 1].contains(&10) {
        return false;
    }
    is_mobile(d) || is_id(d) || is_card(d)
}

fn is_mobile(d: &[u8]) -> bool {
    let d = d.strip_prefix(&[8, 6][..]).unwrap_or(d);
    d.len() == 11 && d[0] == 1 && (3..=9).contains(&d[1]) && d[10] != 10
}

/// An 18-character ID with a good check digit, or an ID-shaped run whose check fails.
fn is_id(d: &[u8]) -> bool {
    if d.len() == 18 && id_check(&d[..17]) == d[17] {
        return true;
    }
    (17..=18).contains(&d.len()) && d[0] != 0 && birth_date_at_6(d)
}

/// ISO 7064 MOD 11-2 check character of the first 17 digits (10 = X).
fn id_check(d17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    if d17.contains(&10) {
        return 11; // matches nothing
    }
    let sum: u32 = d17.iter().zip(WEIGHTS).map(|(&d, w)| d as u32 * w).sum();
    (12 - sum % 11) as u8 % 11
}

fn birth_date_at_6(d: &[u8]) -> bool {
    let num = |r: Range<usize>| d[r].iter().fold(0u32, |n, &x| n * 10 + x as u32);
    if d[6..14].contains(&10) {
        return false;
    }
    let year = num(6..10) as i32;
    (1900..=2100).contains(&year)
        && chrono::NaiveDate::from_ymd_opt(year, num(10..12), num(12..14)).is_some()
}

/// A Luhn-valid card, or a UnionPay-shaped one (62…) whose check fails.
fn is_card(d: &[u8]) -> bool {
    if !(16..=19).contains(&d.len()) || d.contains(&10) {
        return false;
    }
    d.starts_with(&[6, 2]) || luhn(d)
}

fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = x as u32;
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Masked {
        mask_personal(s)
    }

    fn unchanged(s: &str) {
        let r = m(s);
        assert_eq!((r.text.as_str(), r.masked), (s, 0), "{s} was masked");
    }

    // A valid 18-digit ID (check digit computed) and one ending in X.
    const ID: &str = "110101199003077571";
    const ID_X: &str = "11010519491231002X";
    // Luhn-valid 16-digit Visa test number and a 19-digit UnionPay-style number.
    const CARD16: &str = "4111111111111111";
    const CARD19: &str = "6222021234567890128";

    #[test]
    fn check_digits_are_computed_right() {
        let digits =
            |s: &str| -> Vec<u8> { s.chars().map(|c| digit_value(c).unwrap_or(10)).collect() };
        assert_eq!(id_check(&digits(&ID[..17])), 1);
        assert_eq!(id_check(&digits(&ID_X[..17])), 10);
        assert!(luhn(&digits(CARD16)));
        assert!(luhn(&digits(CARD19)));
        assert!(luhn(&digits("79927398713")));
        assert!(!luhn(&digits("79927398710")));
    }

    #[test]
    fn written_ids_mobiles_and_cards_are_masked_whole() {
        let r = m(&format!("我的身份证号是{ID}。"));
        assert_eq!(r.text, format!("我的身份证号是{}。", "*".repeat(18)));
        assert_eq!(r.masked, 1);
        let r = m(&format!("号码{ID_X}对吗"));
        assert_eq!(r.text, format!("号码{}对吗", "*".repeat(18)));
        let r = m("电话13812345678，卡号4111 1111 1111 1111");
        assert_eq!(
            r.text,
            format!("电话{}，卡号{}", "*".repeat(11), "*".repeat(19))
        );
        assert_eq!(r.masked, 2);
        let r = m(&format!("卡号是{CARD19}"));
        assert_eq!(r.text, format!("卡号是{}", "*".repeat(19)));
        let r = m("+86 138-1234-5678");
        assert_eq!(r.text, "+****************");
    }

    #[test]
    fn spoken_and_mixed_forms_are_masked() {
        let r = m("手机幺三八幺二三四五六七八");
        assert_eq!(r.text, format!("手机{}", "＊".repeat(11)));
        assert_eq!(r.masked, 1);
        let r = m("一三九 两两两两 零零零零");
        assert_eq!(r.text, "＊＊＊*＊＊＊＊*＊＊＊＊");
        let r = m("是138一二三四5678吧");
        assert_eq!(r.text, "是***＊＊＊＊****吧");
        // Full-width digits and a spoken ID with 叉 as its check character.
        let r = m("１３８１２３４５６７８");
        assert_eq!(r.text, "＊".repeat(11));
        let r = m("身份证一一零一零五一九四九一二三一零零二叉");
        assert_eq!(r.text, format!("身份证{}", "＊".repeat(18)));
        // A spoken word glued to written digits does not hide the number.
        let r = m("统一13812345678");
        assert_eq!(r.text, format!("统一{}", "*".repeat(11)));
    }

    #[test]
    fn separators_inside_are_masked_and_bytes_line_up() {
        let s = "卡号6222，0212，3456，7890，128 谢谢";
        let r = m(s);
        assert_eq!(r.text.len(), s.len());
        assert_eq!(r.text, "卡号****＊****＊****＊****＊*** 谢谢");
        assert!(r.text.ends_with(" 谢谢"));
    }

    #[test]
    fn two_numbers_joined_by_a_comma_are_two() {
        let r = m("13812345678，13912345678");
        assert_eq!(r.masked, 2);
        assert_eq!(r.text, format!("{0}，{0}", "*".repeat(11)));
        // Only the number goes, not a queue number the comma glued to it.
        let r = m("A023, 13812345678");
        assert_eq!(r.text, format!("A023, {}", "*".repeat(11)));
        // The ID's own X is not a glued letter.
        let r = m(&format!("{ID_X}号"));
        assert_eq!(r.text, format!("{}号", "*".repeat(18)));
        // Nor is it glued to the number after it (found by the idempotence property on CI).
        let r = m(&format!("３3零三13812345678３0X{ID}一"));
        assert!(r.text.contains(&"*".repeat(18)), "{}", r.text);
        assert_eq!(m(&r.text).text, r.text);
    }

    #[test]
    fn a_mis_heard_id_or_unionpay_card_is_still_masked() {
        // Last digit wrong: check fails, but the birth date says it is an ID.
        let wrong = "110101199003077578";
        let r = m(wrong);
        assert_eq!((r.text, r.masked), ("*".repeat(18), 1));
        // One digit dropped.
        assert_eq!(m(&wrong[..17]).masked, 1);
        // A 62… card with a wrong digit.
        assert_eq!(m("6222021234567890127").masked, 1);
    }

    #[test]
    fn ordinary_numbers_are_left_alone() {
        for s in [
            "今天是2026年11月30日",
            "二零二六年十一月三十日",
            "收费一百五十元",
            "请到3号窗口",
            "A023号请到五号窗口",
            "一二三，开始",
            "一、二、三、四、五、六、七、八、九、十",
            "2026-11-30 08:30:00",
            "20261130083000",
            "金额13,800,000,000元",
            "两三个人一起来",
            "统一社会信用代码91110000600037341L",
            "车牌号京A13812345678B",
            // 受理编号: 18 digits, no real birth date, no check, not 62….
            "受理编号202611300001234567",
            // Luhn-valid but short: not a card.
            "编号79927398713",
            "12345678903",
            // 11 digits that cannot be a mobile (second digit 2).
            "12345678901",
            // Dashes and spaces around short numbers.
            "3 - 5 个工作日",
        ] {
            unchanged(s);
        }
    }

    #[test]
    fn mask_replaces_ascii_with_star_and_others_with_fullwidth_star() {
        let r = m("一3八1二3四5六7八");
        for (a, b) in r.text.chars().zip("一3八1二3四5六7八".chars()) {
            assert_eq!(a.len_utf8(), b.len_utf8());
            assert!(a == '*' || a == '＊');
        }
        for c in [
            ' ', '\u{3000}', '-', '－', '–', '—', ',', '，', '、', 'X', 'x', 'Ｘ', 'ｘ', '叉',
        ] {
            assert!(matches!(c.len_utf8(), 1 | 3), "{c:?}");
        }
        for c in "0123456789０１２３４５６７８９零〇○一幺二两三四五六七八九".chars()
        {
            assert!(matches!(c.len_utf8(), 1 | 3), "{c:?}");
        }
    }

    fn texts() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "1",
            "3",
            "8",
            "0",
            "6",
            "2",
            "X",
            "x",
            "叉",
            "一",
            "幺",
            "两",
            "零",
            "〇",
            "三",
            "八",
            "１",
            "３",
            " ",
            "-",
            "，",
            ",",
            "、",
            "号",
            "窗口",
            "您好",
            "a",
            "é",
            "🙂",
            ID,
            CARD16,
            "13812345678",
        ]);
        prop_oneof![
            prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat()),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn same_bytes_same_boundaries_and_idempotent(s in texts()) {
            let r = mask_personal(&s);
            prop_assert_eq!(r.text.len(), s.len());
            for i in 0..=s.len() {
                prop_assert_eq!(r.text.is_char_boundary(i), s.is_char_boundary(i));
            }
            for (a, b) in r.text.chars().zip(s.chars()) {
                prop_assert!(a == b || a == '*' || a == '＊');
            }
            prop_assert_eq!(r.masked == 0, r.text == s);
            let again = mask_personal(&r.text);
            prop_assert_eq!(again.text, r.text);
        }

        #[test]
        fn text_without_digits_is_unchanged(s in any::<String>()) {
            let s: String = s.chars().filter(|&c| digit_value(c).is_none()).collect();
            let r = mask_personal(&s);
            prop_assert_eq!(r.text, s);
            prop_assert_eq!(r.masked, 0);
        }
    }
}
