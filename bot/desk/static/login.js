// Show the sign-in error after a failed attempt (kept out of the page for the CSP).
"use strict";
if (new URLSearchParams(location.search).has("failed")) document.getElementById("failed").hidden = false;
