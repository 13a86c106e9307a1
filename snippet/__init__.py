"""The tracker a website embeds: its readable source (``src/hush.js``), the build that minifies
it (``build.mjs``), the built files hush serves (``dist/``), and their routes (``assets``)."""
