# The judge's clock, paired or not: over every Python review of sessions 10-13 with both sides' round trips
# and claims, the spread of each side's overhead (round trip less claim) and of their paired
# difference, and the disputes the rule in dispute.rs gives. Run from the repository root.
import json, glob, statistics as st, math
files = glob.glob('results/2026-12-07-s1[0-3]/*/lean.jsonl') + glob.glob('results/2026-12-07-s1[0-3]/*/noise.jsonl') + glob.glob('results/2026-12-07-s1[0-3]/*/examples/review.jsonl')+glob.glob('results/2026-12-07-s13/*/ab-*.jsonl')
def q(v,p):
    v=sorted(v); k=(len(v)-1)*p; f=math.floor(k); c=min(f+1,len(v)-1); return v[f]+(v[c]-v[f])*(k-f)
rows=[]
for f in files:
    for l in open(f):
        r=json.loads(l); t=r.get('timing') or {}
        rc=t.get('round_trips_ms') or []; rb=t.get('baseline_round_trips_ms') or []
        cc=t.get('claimed_ms') or t.get('candidate_ms') or []; bb=t.get('baseline_ms') or []
        if not rc or len(rc)!=len(rb) or len(cc)!=len(rc) or len(bb)!=len(rb) or len(rc)<5: continue
        oc=[a-b for a,b in zip(rc,cc)]; ob=[a-b for a,b in zip(rb,bb)]
        d=[a-b for a,b in zip(oc,ob)]
        claim=st.median(cc)
        sig=(q(ob,.75)-q(ob,.25))/1.349
        se=1.2533*sig*math.sqrt(2/len(ob))
        allow=max(0.05,0.25*claim)+3*se
        exc=st.median(oc)-st.median(ob)
        # paired: excess median(d); noise from baseline's successive differences (regime not removed)
        rows.append(dict(name=r['name'],f=f.split('/')[1],n=len(rc),claim=claim,exc=exc,allow=allow,old=exc>allow,
            pexc=st.median(d), sd_oc=st.pstdev(oc), sd_ob=st.pstdev(ob), sd_d=st.pstdev(d),
            iqr_oc=q(oc,.75)-q(oc,.25), iqr_ob=q(ob,.75)-q(ob,.25), iqr_d=q(d,.75)-q(d,.25), disputed=(t.get('clock') or {}).get('disputed')))
print(len(rows))
print('old-rule disputes', sum(r['old'] for r in rows), 'recorded disputed', sum(bool(r['disputed']) for r in rows))
print('median IQR oc %.3f ob %.3f d %.3f' % (st.median([r['iqr_oc'] for r in rows]), st.median([r['iqr_ob'] for r in rows]), st.median([r['iqr_d'] for r in rows])))
print('median |exc| %.3f |pexc| %.3f' % (st.median([abs(r['exc']) for r in rows]), st.median([abs(r['pexc']) for r in rows])))
for r in rows:
    if r['old'] or r['disputed']: print(r['f'], r['name'][:50], 'claim %.3f exc %.3f pexc %.3f allow %.3f iqr_ob %.3f iqr_d %.3f'%(r['claim'],r['exc'],r['pexc'],r['allow'],r['iqr_ob'],r['iqr_d']))
ok=[r for r in rows if not r['disputed'] and 'native' not in r['name']]
print(len(ok), 'python reviews, not disputed')
print('median IQR: overhead c %.3f, b %.3f, paired difference %.3f' % (st.median([r['iqr_oc'] for r in ok]), st.median([r['iqr_ob'] for r in ok]), st.median([r['iqr_d'] for r in ok])))
import itertools
better=sum(r['iqr_d']<min(r['iqr_oc'],r['iqr_ob']) for r in ok); print('paired IQR below both sides', better, 'of', len(ok))
print('paired IQR below sqrt(iqr_c^2+iqr_b^2)', sum(r['iqr_d']<0.8*math.hypot(r['iqr_oc'],r['iqr_ob']) for r in ok))
