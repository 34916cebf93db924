"""Colour data: ramps for spectral indices, perceptual colour maps, the Sentinel-2 SCL classes.

Only data lives here; :mod:`s2render.core.colormap` turns it into lookup tables and legends.
"""

from __future__ import annotations

RGB = tuple[int, int, int]
Stops = tuple[tuple[float, RGB], ...]

# --- Spectral-index ramps: (index value, colour) stops over [-1, 1] ------------------------------

# After Sentinel Hub EO Browser NDVI visualisation: dark red/brown below 0 (water, cloud, snow),
# tan for bare soil, yellow around 0.2 (sparse vegetation), greens deepening to dark green from
# 0.6 (dense canopy). Stops re-derived for this project, not taken from the (CC BY-SA) script.
NDVI: Stops = (
    (-1.0, (96, 20, 10)),
    (-0.2, (165, 60, 30)),
    (0.0, (200, 130, 70)),
    (0.1, (230, 195, 110)),
    (0.2, (250, 240, 120)),
    (0.3, (190, 220, 90)),
    (0.4, (120, 185, 60)),
    (0.5, (50, 140, 40)),
    (0.6, (15, 95, 20)),
    (1.0, (0, 60, 10)),
)

# McFeeters' NDWI (Int. J. Remote Sens. 17(7), 1996) is positive over open water: land stays
# pale and neutral, blues start at 0 and darken with depth/clarity.
NDWI: Stops = (
    (-1.0, (245, 240, 225)),
    (-0.3, (225, 230, 230)),
    (0.0, (170, 210, 235)),
    (0.2, (90, 160, 220)),
    (0.5, (30, 90, 190)),
    (1.0, (5, 30, 110)),
)

# Moisture index (NDMI, Gao's NIR/SWIR NDWI, Remote Sens. Environ. 58(3), 1996): dry brown to
# wet blue, neutral sand at 0.
NDMI: Stops = (
    (-1.0, (110, 60, 20)),
    (-0.5, (160, 100, 45)),
    (-0.2, (210, 170, 100)),
    (0.0, (235, 225, 180)),
    (0.2, (150, 200, 210)),
    (0.4, (70, 140, 200)),
    (0.8, (20, 60, 160)),
    (1.0, (10, 30, 110)),
)

# NDSI: snow is classically NDSI > 0.4 (Hall, Riggs & Salomonson, Remote Sens. Environ. 54(2),
# 1995), so the ramp turns from greys to icy blue there and ends in white.
NDSI: Stops = (
    (-1.0, (50, 40, 30)),
    (0.0, (140, 130, 120)),
    (0.2, (175, 180, 190)),
    (0.4, (110, 190, 250)),
    (0.7, (215, 240, 255)),
    (1.0, (255, 255, 255)),
)

INDEX_RAMPS: dict[str, tuple[str, Stops]] = {
    "ndvi": ("NDVI", NDVI),
    "ndwi": ("NDWI (McFeeters)", NDWI),
    "ndmi": ("Moisture index (NDMI)", NDMI),
    "ndsi": ("NDSI (snow)", NDSI),
}

# --- Perceptual colour maps -----------------------------------------------------------------------

# viridis, magma, inferno, plasma (van der Walt & Smith, CC0) and cividis (Nuñez, Anderton &
# Renslow, PLOS ONE 2018) from matplotlib's 256-entry tables (lib/matplotlib/_cm_listed.py).
# "i:rrggbb" keeps entry i; the entries left out lie within 1/255 of linear interpolation between
# the kept ones, so the rebuilt 256-entry tables match matplotlib's to one 8-bit step.
SAMPLED: dict[str, str] = {
    "viridis": "0:440154 15:481769 29:482979 42:443983 57:3e4a89 72:375b8d 91:2e6e8e 112:26828e "
    "129:20928c 143:1f9f88 154:23a983 162:2ab07f 170:35b779 179:44bf70 188:56c667 198:6ccd5a "
    "208:84d44b 231:c0df25 238:d2e21b 242:dde318 246:e7e419 250:f1e51d 255:fde725",
    "magma": "0:000004 4:020109 12:06051a 28:180f3d 37:241253 47:341069 54:400f74 61:4c117a "
    "70:5a167e 81:6b1d81 94:802582 107:942c80 129:b83779 142:cd4071 152:dc4869 163:ea5661 "
    "175:f4695c 184:f9795d 194:fc8c63 207:fea571 221:febf84 237:fddc9e 255:fcfdbf",
    "inferno": "0:000004 3:010108 9:040314 17:0c0826 29:1c0c43 36:280b53 42:320a5e 48:3d0965 "
    "55:490b6a 63:550f6d 73:65156e 90:801f6c 107:9b2964 124:b63458 143:d04545 158:e25734 "
    "173:ef6e21 192:f98e09 197:fb9706 201:fc9f07 206:fca80d 213:fbb61a 221:fac62d 228:f7d340 "
    "236:f3e35a 244:f1f179 249:f4f88e 255:fcffa4",
    "plasma": "0:0d0887 4:19068c 11:280592 32:4c02a1 48:6600a7 63:7d03a8 71:8808a6 88:a01a9c "
    "110:ba3388 134:d14e72 153:e16462 171:ed7a52 187:f68f44 202:fca338 215:feb72d 227:fdca26 "
    "236:fad824 250:f3f027 253:f1f525 255:f0f921",
    "cividis": "0:00224e 19:00306f 21:003170 23:013271 28:123570 34:1e3a6f 42:2a3f6d 52:36466c "
    "84:565c6d 104:686a71 126:7b7a78 148:908b78 179:aea371 205:c9b965 219:d9c55c 232:e7d150 "
    "242:f2da44 251:fde334 252:fee434 255:fee838",
}

# ColorBrewer schemes (Cynthia A. Brewer, colorbrewer2.org, Apache-2.0-style licence) as
# matplotlib ships them (lib/matplotlib/_cm.py): evenly spaced colours, interpolated linearly.
EVENLY_SPACED: dict[str, str] = {
    "greys": "ffffff f0f0f0 d9d9d9 bdbdbd 969696 737373 525252 252525 000000",
    "rdylgn": "a50026 d73027 f46d43 fdae61 fee08b ffffbf d9ef8b a6d96a 66bd63 1a9850 006837",
    "rdbu": "67001f b2182b d6604d f4a582 fddbc7 f7f7f7 d1e5f0 92c5de 4393c3 2166ac 053061",
    "spectral": "9e0142 d53e4f f46d43 fdae61 fee08b ffffbf e6f598 abdda4 66c2a5 3288bd 5e4fa2",
}
DISPLAY_NAMES = {"greys": "Greys", "rdylgn": "RdYlGn", "rdbu": "RdBu", "spectral": "Spectral"}

# --- Sentinel-2 L2A scene classification (SCL) ----------------------------------------------------

# Values and names: Sen2Cor Product Readme / L2A Product Definition (S2-PDGS-MPC-L2A-PDD) and the
# Sen2Cor Configuration and User Manual (S2-PDGS-MPC-L2A-SUM), "Scene Classification Values".
# Colours: the customary Sen2Cor/SNAP legend. Class 0 (no data) renders transparent.
SCL_CLASSES: tuple[tuple[int, str, RGB], ...] = (
    (0, "No data", (0, 0, 0)),
    (1, "Saturated or defective", (255, 0, 0)),
    (2, "Dark area pixels", (47, 47, 47)),
    (3, "Cloud shadows", (100, 50, 0)),
    (4, "Vegetation", (0, 160, 0)),
    (5, "Not vegetated", (255, 230, 90)),
    (6, "Water", (0, 0, 255)),
    (7, "Unclassified", (128, 128, 128)),
    (8, "Cloud medium probability", (192, 192, 192)),
    (9, "Cloud high probability", (255, 255, 255)),
    (10, "Thin cirrus", (100, 200, 255)),
    (11, "Snow or ice", (255, 150, 255)),
)
SCL_TRANSPARENT = frozenset({0})
