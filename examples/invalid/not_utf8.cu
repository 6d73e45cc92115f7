/* sadoku
problem = "trimm"
ÿþ */
