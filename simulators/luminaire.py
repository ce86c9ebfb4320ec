"""An LED road luminaire's electrics and heat, as its datasheets give them.

Power: the driver draws the rated power at full output and about 12 % of it at the lowest
dimming level (drivers do not dim to zero input), a few per cent more as the LEDs age.

Heat: what the luminaire dissipates is the driver's loss plus what the LEDs do not turn into
light. A road driver is ~92 % efficient at full load and loses a few points at part load
(Mean Well XLG/HLG-class figures); a white mid-power LED turns ~40 % of its electrical input
into light at road-lighting currents, the rest is heat. The case (the controller's thermistor on
the heat sink, the Tc point) then sits above the air by the heat sink's thermal resistance times
the heat: ``case = air + R_th × dissipated``. Luminaires are designed so the case runs about
25 K above the air at full power (keeping Tc under ~70 °C at 45 °C air, far from the 85–105 °C
Tc limits of LED modules and drivers), so ``R_th`` follows from each lamp's rated power: a
250 W lamp ~0.16 K/W, a 60 W lamp ~0.66 K/W. A healthy lamp on Dongguan's hottest night (air
~30 °C) reads under 60 °C; a heat sink blocked by dirt, a nest or a failed thermal pad (its
``R_th`` three times the design, a scenario's ``lamp_overheating``) reads ~105 °C at full power.

The controller raises ``over_temperature`` at 90 °C case and clears it under 85 °C, and
``over_voltage`` / ``under_voltage`` outside 220 V ± 10 % (GB/T 12325-2008 allows the supply
+7 %/−10 %; drivers are specified for at least that).
"""

from __future__ import annotations

__all__ = [
    "DESIGN_RISE_K",
    "MAINS_V",
    "OVER_TEMPERATURE_C",
    "OVER_TEMPERATURE_CLEAR_C",
    "OVER_VOLTAGE_V",
    "UNDER_VOLTAGE_V",
    "case_temp_c",
    "dissipated_w",
    "input_power_w",
    "thermal_resistance_k_w",
]

# China's mains: 220 V single-phase.
MAINS_V = 220.0
OVER_VOLTAGE_V = MAINS_V * 1.10
UNDER_VOLTAGE_V = MAINS_V * 0.90
OVER_TEMPERATURE_C = 90.0
OVER_TEMPERATURE_CLEAR_C = 85.0
DESIGN_RISE_K = 25.0  # case over air at rated power, as the luminaire is designed
_MIN_INPUT_SHARE = 0.12  # a driver at its lowest dimming level
_DRIVER_EFFICIENCY_FULL = 0.92
_DRIVER_EFFICIENCY_LOSS_AT_IDLE = 0.07  # points lost between full and no load
_LED_LIGHT_SHARE = 0.40  # of the LEDs' electrical input, what leaves as light


def input_power_w(rated_w: float, dimming_pct: float, ageing: float = 1.0) -> float:
    """What the lamp draws from the mains at a dimming level (ageing: 1.0 new, ~1.06 old)."""
    return rated_w * (_MIN_INPUT_SHARE + (1 - _MIN_INPUT_SHARE) * dimming_pct / 100.0) * ageing


def _driver_efficiency(load: float) -> float:
    return _DRIVER_EFFICIENCY_FULL - _DRIVER_EFFICIENCY_LOSS_AT_IDLE * (1.0 - min(1.0, load))


def dissipated_w(input_w: float, rated_w: float) -> float:
    """The heat the luminaire sheds: the driver's loss and the LEDs' share that is not light."""
    if input_w <= 0:
        return 0.0
    efficiency = _driver_efficiency(input_w / rated_w)
    return input_w * (1.0 - efficiency) + input_w * efficiency * (1.0 - _LED_LIGHT_SHARE)


def thermal_resistance_k_w(rated_w: float) -> float:
    """The heat sink's case-to-air thermal resistance, sized for the design rise at rated
    power."""
    return DESIGN_RISE_K / dissipated_w(rated_w, rated_w)


def case_temp_c(air_c: float, heat_w: float, resistance_k_w: float) -> float:
    """The case (Tc point) temperature in steady state: air plus R_th times the heat. Road
    luminaires settle within ~20–30 min, well inside a 15-min report or two, so the steady
    state is what a report sees after the first one of the night."""
    return air_c + resistance_k_w * heat_w
