"""The Core Business Vocabulary (CBV 2.0) terms an EPCIS 2.0 document may give as bare words.

Each standard field whose value comes from a CBV vocabulary accepts the term's bare name in JSON-LD
(``"bizStep": "shipping"``), which the standard's context expands to the term's URI
(``https://ref.gs1.org/cbv/BizStep-shipping``); any other value of such a field must be a URI. The
word lists are those of the standard's JSON-LD context (epcis-context.jsonld, EPCIS/CBV 2.0).
"""

from __future__ import annotations

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
# Prefixes the standard's context declares, usable in values and keys without declaring them again.
STANDARD_PREFIXES = {
    "epcis": "https://ref.gs1.org/epcis/", "cbv": CBV, "cbvmda": "urn:epcglobal:cbv:mda:", "gs1": GS1_VOC,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "dcterms": "http://purl.org/dc/terms/",
}

BIZ_STEPS = frozenset({
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
    "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying", "disassembling",
    "dispensing", "encoding", "entering_exiting", "holding", "inspecting", "installing",
    "killing", "loading", "other", "packing", "picking", "receiving",
    "removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling",
    "sampling", "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking",
    "storing", "transporting", "unloading", "unpacking", "void_shipping",
})
DISPOSITIONS = frozenset({
    "active", "available", "completeness_verified", "completeness_inferred", "conformant", "container_closed",
    "container_open", "damaged", "destroyed", "dispensed", "disposed", "encoded",
    "expired", "in_progress", "in_transit", "inactive", "mismatch_instance", "mismatch_class",
    "mismatch_quantity", "needs_replacement", "no_pedigree_match", "non_conformant", "non_sellable_other", "partially_dispensed",
    "recalled", "reserved", "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible",
    "stolen", "unavailable", "unknown",
})
BIZ_TRANSACTION_TYPES = frozenset({
    "bol", "cert", "desadv", "inv", "pedigree", "po",
    "poc", "prodorder", "recadv", "rma", "testprd", "testres",
    "upevt",
})
SOURCE_DESTINATION_TYPES = frozenset({
    "owning_party", "possessing_party", "location",
})
MEASUREMENT_TYPES = frozenset({
    "AbsoluteHumidity", "AbsorbedDose", "AbsorbedDoseRate", "Acceleration",
    "Radioactivity", "Altitude", "AmountOfSubstance", "AmountOfSubstancePerUnitVolume",
    "Angle", "AngularAcceleration", "AngularMomentum", "AngularVelocity",
    "Area", "Capacitance", "Conductance", "Conductivity",
    "Count", "Density", "Dimensionless", "DoseEquivalent",
    "DoseEquivalentRate", "DynamicViscosity", "ElectricCharge", "ElectricCurrent",
    "ElectricCurrentDensity", "ElectricFieldStrength", "Energy", "Exposure",
    "Force", "Frequency", "Illuminance", "Inductance",
    "Irradiance", "KinematicViscosity", "Length", "LinearMomentum",
    "Luminance", "LuminousFlux", "LuminousIntensity", "MagneticFlux",
    "MagneticFluxDensity", "MagneticVectorPotential", "Mass", "MassConcentration",
    "MassFlowRate", "MassPerAreaTime", "MemoryCapacity", "MolalityOfSolute",
    "MolarEnergy", "MolarMass", "MolarVolume", "Power",
    "Pressure", "RadiantFlux", "RadiantIntensity", "RelativeHumidity",
    "Resistance", "Resistivity", "SolidAngle", "SpecificVolume",
    "Speed", "SurfaceDensity", "SurfaceTension", "Temperature",
    "Time", "Torque", "Voltage", "Volume",
    "VolumeFlowRate", "VolumeFraction", "VolumetricFlux", "Wavenumber",
})
SENSOR_ALERT_TYPES = frozenset({
    "ALARM_CONDITION", "ERROR_CONDITION",
})
COMPONENTS = frozenset({
    "x", "y", "z", "axial_distance", "azimuth", "height",
    "spherical_radius", "polar_angle", "elevation_angle", "easting", "northing", "latitude",
    "longitude", "altitude",
})
ERROR_REASONS = frozenset({
    "did_not_occur", "incorrect_data",
})

# The vocabulary of each field: its bare words and the URI a bare word stands for.
VOCABULARIES: dict[str, tuple[frozenset[str], str]] = {
    "bizStep": (BIZ_STEPS, CBV + "BizStep-"),
    "disposition": (DISPOSITIONS, CBV + "Disp-"),
    "persistentDisposition": (DISPOSITIONS, CBV + "Disp-"),
    "bizTransactionType": (BIZ_TRANSACTION_TYPES, CBV + "BTT-"),
    "sourceDestinationType": (SOURCE_DESTINATION_TYPES, CBV + "SDT-"),
    "measurementType": (MEASUREMENT_TYPES, GS1_VOC),
    "exception": (SENSOR_ALERT_TYPES, GS1_VOC),
    "component": (COMPONENTS, CBV + "Comp-"),
    "reason": (ERROR_REASONS, CBV + "ER-"),
}
# The CBV 1.x URNs that name the same terms (``urn:epcglobal:cbv:bizstep:shipping``).
URN_PREFIXES = {
    "urn:epcglobal:cbv:bizstep:": CBV + "BizStep-", "urn:epcglobal:cbv:disp:": CBV + "Disp-",
    "urn:epcglobal:cbv:btt:": CBV + "BTT-", "urn:epcglobal:cbv:sdt:": CBV + "SDT-",
    "urn:epcglobal:cbv:er:": CBV + "ER-",
}


def expand(vocabulary: str, value: str) -> str:
    """A field's value as its term URI: a bare word of the field's vocabulary expanded, else unchanged."""
    words, base = VOCABULARIES[vocabulary]
    return base + value if value in words else value


def web_uri(value: str) -> str:
    """A CBV 1.x URN as the CBV 2.0 web URI of the same term; anything else unchanged."""
    for urn, base in URN_PREFIXES.items():
        if urn in value:
            value = value.replace(urn, base)
    return value
