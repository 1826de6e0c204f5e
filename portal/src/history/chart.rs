//! Geometry of the units-per-fiscal-year bar chart, drawn server-side as inline SVG so that it
//! reads without JavaScript; every bar carries its figure as text.

use serde::Serialize;

use crate::credits::Units;

/// Width of the drawing area (SVG user units).
pub const WIDTH: u32 = 640;
/// Height of the drawing area.
pub const HEIGHT: u32 = 240;
/// Space below the bars for the year labels.
const AXIS: u32 = 28;
/// Space above the tallest bar for its figure.
const TOP: u32 = 24;
/// Widest bar.
const MAX_BAR: u32 = 64;

/// One bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bar {
    /// Label under the bar ("2026年度" / "FY2026").
    pub label: String,
    /// Figure above the bar ("12.5").
    pub value: String,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height (zero for a year without units).
    pub height: u32,
    /// Horizontal centre, for the texts.
    pub center: u32,
    /// Baseline of the figure.
    pub value_y: u32,
}

/// The chart: bars plus the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    /// Width of the drawing.
    pub width: u32,
    /// Height of the drawing.
    pub height: u32,
    /// y of the baseline.
    pub baseline: u32,
    /// Baseline of the year labels.
    pub label_y: u32,
    /// The bars, in the order given.
    pub bars: Vec<Bar>,
}

/// Lays out `values` (label, units) as bars scaled to the largest value.
pub fn bars(values: &[(String, Units)]) -> Chart {
    let baseline = HEIGHT - AXIS;
    let usable = baseline - TOP;
    let max = values.iter().map(|(_, u)| u.0).max().unwrap_or(0).max(1);
    let n = u32::try_from(values.len()).unwrap_or(u32::MAX).max(1);
    let slot = WIDTH / n;
    let width = (slot * 2 / 3).clamp(1, MAX_BAR);
    let bars = values
        .iter()
        .enumerate()
        .map(|(i, (label, units))| {
            let i = u32::try_from(i).unwrap_or(0);
            let scaled = i64::from(usable) * units.0.max(0) / max;
            let height = u32::try_from(scaled).unwrap_or(usable);
            let center = slot * i + slot / 2;
            Bar {
                label: label.clone(),
                value: units.to_string(),
                x: center - width / 2,
                y: baseline - height,
                width,
                height,
                center,
                value_y: baseline - height - 6,
            }
        })
        .collect();
    Chart { width: WIDTH, height: HEIGHT, baseline, label_y: HEIGHT - 8, bars }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value() {
        let c = bars(&[("2025".into(), Units(1000)), ("2026".into(), Units(500)), ("2027".into(), Units(0))]);
        assert_eq!(c.bars.len(), 3);
        let usable = c.baseline - TOP;
        assert_eq!(c.bars[0].height, usable);
        assert_eq!(c.bars[1].height, usable / 2);
        assert_eq!(c.bars[2].height, 0);
        assert_eq!(c.bars[2].y, c.baseline);
        assert_eq!(c.bars[1].value, "5");
        assert!(c.bars.iter().all(|b| b.x + b.width <= WIDTH && b.y >= TOP - 1));
        assert!(c.bars[0].center < c.bars[1].center);
    }

    #[test]
    fn an_empty_chart_has_no_bars() {
        let c = bars(&[]);
        assert!(c.bars.is_empty());
        assert_eq!(c.baseline, HEIGHT - AXIS);
    }
}
